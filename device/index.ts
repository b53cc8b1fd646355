export { parseDevice, requireDevice, deviceFromKey, mask } from "./imei.js";
export type { Device, DeviceKey, DeviceForm, DeviceParse } from "./imei.js";
export { luhnCheckDigit } from "./luhn.js";
export { plainDeviceKey } from "./plain-device-key.js";
export { issuingBodyOf } from "./issuing-body.js";
export { TacDatabase } from "./tac-database.js";
export type { TacModel } from "./tac-database.js";
export { readCsvRecords, readCsvRecordBatches, CsvSyntaxError } from "./csv-records.js";
export type { CsvRecord } from "./csv-records.js";
