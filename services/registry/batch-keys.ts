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

/** The key of a plain-digit IMEI (15, Luhn-checked), IMEISV (16) or body (14); undefined when `requireDevice` must decide. */
function plainKeyOf(input: string): DeviceKey | undefined {
  const length = input.length;
  if (length < 14 || length > 16) return undefined;
  let sum = 0;
  let nonZero = false;
  // Luhn over the 14-digit body: from the right, the rightmost body digit is doubled.
  for (let i = 13, double = true; i >= 0; i--, double = !double) {
    let d = input.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return undefined;
    if (d !== 0) nonZero = true;
    if (double) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  if (!nonZero) return undefined;
  for (let i = 14; i < length; i++) {
    const d = input.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return undefined;
  }
  if (length === 15 && input.charCodeAt(14) - 48 !== (10 - (sum % 10)) % 10) return undefined;
  return (length === 14 ? input : input.slice(0, 14)) as DeviceKey;
}

/** The device key of each IMEI of a batch, in order; a malformed one throws INVALID_ARGUMENT naming `<field>[i]`. */
export function batchKeys(imeis: readonly string[], field: string): DeviceKey[] {
  const keys = new Array<DeviceKey>(imeis.length);
  for (let i = 0; i < imeis.length; i++) {
    const imei = imeis[i]!;
    keys[i] = plainKeyOf(imei) ?? requireDevice(imei, `${field}[${i}]`).key;
  }
  return keys;
}
