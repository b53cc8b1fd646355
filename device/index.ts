export { parseDevice, requireDevice, deviceFromKey, mask } from "./imei.js";
export type { Device, DeviceKey, DeviceForm, DeviceParse } from "./imei.js";
export { luhnCheckDigit } from "./luhn.js";
export { issuingBodyOf } from "./issuing-body.js";
