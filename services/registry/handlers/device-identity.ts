/** The DeviceIdentity a response carries for a device key. */
import type { MessageInitShape } from "@bufbuild/protobuf";
import { DeviceIdentitySchema } from "../../../gen/imeifed/v1/device_pb.js";
import { deviceFromKey, type Device } from "../../../device/index.js";

/** What the registry derives from the key: every form of the device maps to it. */
export function identityOf(device: Device | string): MessageInitShape<typeof DeviceIdentitySchema> {
  const d = typeof device === "string" ? deviceFromKey(device) : device;
  return { deviceKey: d.key, imei: d.imei, tac: d.tac, issuingBody: d.issuingBody };
}
