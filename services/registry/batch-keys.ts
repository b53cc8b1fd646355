/**
 * The device keys of a CheckDevices batch, each IMEI validated once.
 *
 * Why: `requireDevice` builds a whole Device (IMEI, TAC, serial, issuing
 * body) through regular expressions, and a registry only needs the key of
 * each of up to 10,000 IMEIs per call. The common forms (14, 15 or 16 plain
 * digits) are read by `plainDeviceKey`, by the same rules; anything else (and
 * anything these rules refuse) goes through `requireDevice`, so its answer
 * and its error are exactly `requireDevice`'s (tests compare the two).
 */
import { plainDeviceKey, requireDevice, type DeviceKey } from "../../device/index.js";

/** A batch's device keys by position, and the same keys as numbers (a 14-digit key is exact in a double). */
export interface BatchKeys {
  readonly keys: DeviceKey[];
  /** `numbers[i] === Number(keys[i])`: comparing numbers is far cheaper than comparing the keys' strings. */
  readonly numbers: Float64Array;
}

/** The device key of each IMEI of a batch, in order; a malformed one throws INVALID_ARGUMENT naming `<field>[i]`. */
export function batchKeys(imeis: readonly string[], field: string): BatchKeys {
  const keys = new Array<DeviceKey>(imeis.length);
  const numbers = new Float64Array(imeis.length);
  for (let i = 0; i < imeis.length; i++) {
    const imei = imeis[i]!;
    const number = plainDeviceKey(imei);
    if (number >= 0) {
      keys[i] = (imei.length === 14 ? imei : imei.slice(0, 14)) as DeviceKey;
      numbers[i] = number;
    } else {
      keys[i] = requireDevice(imei, `${field}[${i}]`).key;
      numbers[i] = Number(keys[i]);
    }
  }
  return { keys, numbers };
}
