/** Valid test IMEIs, each the n-th of its TAC, with the 14-digit key and IMEISV forms of the same device. */
import { luhnCheckDigit } from "../../device/index.js";

export interface TestDevice {
  readonly key: string;
  readonly imei: string;
  readonly imeisv: string;
}

export function testDevice(n: number, tac = "35693803"): TestDevice {
  const key = `${tac}${String(n).padStart(6, "0")}`;
  return { key, imei: key + String(luhnCheckDigit(key)), imeisv: `${key}07` };
}
