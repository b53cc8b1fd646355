/**
 * The device keys of a CheckDevices batch, each IMEI validated once.
 *
 * Why: `requireDevice` builds a whole Device (IMEI, TAC, serial, issuing
 * body) through regular expressions, and a registry only needs the key of
 * each of up to 10,000 IMEIs per call. The common forms (14, 15 or 16 plain
 * digits) are checked here directly, by the same rules; anything else (and
 * anything these rules refuse) goes through `requireDevice`, so its answer
 * and its error are exactly `requireDevice`'s (tests compare the two).
 */
import { requireDevice, type DeviceKey } from "../../device/index.js";

/** A batch's device keys by position, and the same keys as numbers (a 14-digit key is exact in a double). */
export interface BatchKeys {
  readonly keys: DeviceKey[];
  /** `numbers[i] === Number(keys[i])`: comparing numbers is far cheaper than comparing the keys' strings. */
  readonly numbers: Float64Array;
}

/** 10^k, for a digit's place in the 14-digit body. */
const PLACE = Array.from({ length: 14 }, (_, k) => 10 ** k);

/**
 * The key of a plain-digit IMEI (15, Luhn-checked), IMEISV (16) or body (14),
 * with its number written to `numbers[at]`; undefined when `requireDevice` must decide.
 */
function plainKeyOf(input: string, numbers: Float64Array, at: number): DeviceKey | undefined {
  const length = input.length;
  if (length < 14 || length > 16) return undefined;
  let sum = 0;
  let value = 0;
  // Luhn over the 14-digit body: from the right, the rightmost body digit is doubled.
  for (let i = 13, double = true; i >= 0; i--, double = !double) {
    let d = input.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return undefined;
    value += d * PLACE[13 - i]!;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  if (value === 0) return undefined; // all zeros: requireDevice says why
  for (let i = 14; i < length; i++) {
    const d = input.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return undefined;
  }
  if (length === 15 && input.charCodeAt(14) - 48 !== (10 - (sum % 10)) % 10) return undefined;
  numbers[at] = value;
  return (length === 14 ? input : input.slice(0, 14)) as DeviceKey;
}

/** The device key of each IMEI of a batch, in order; a malformed one throws INVALID_ARGUMENT naming `<field>[i]`. */
export function batchKeys(imeis: readonly string[], field: string): BatchKeys {
  const keys = new Array<DeviceKey>(imeis.length);
  const numbers = new Float64Array(imeis.length);
  for (let i = 0; i < imeis.length; i++) {
    const imei = imeis[i]!;
    const plain = plainKeyOf(imei, numbers, i);
    if (plain !== undefined) {
      keys[i] = plain;
    } else {
      keys[i] = requireDevice(imei, `${field}[${i}]`).key;
      numbers[i] = Number(keys[i]);
    }
  }
  return { keys, numbers };
}
