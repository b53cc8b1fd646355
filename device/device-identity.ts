/** The DeviceIdentity a response carries for a device: one mapping for the registry and the gateway. */
import type { MessageInitShape } from "@bufbuild/protobuf";
import { DeviceIdentitySchema } from "../gen/imeifed/v1/device_pb.js";
import { deviceFromKey, type Device } from "./imei.js";

/** What every form of the device maps to: its key, IMEI with check digit, TAC and issuing body. */
export function identityOf(device: Device | string): MessageInitShape<typeof DeviceIdentitySchema> {
  const d = typeof device === "string" ? deviceFromKey(device) : device;
  return { deviceKey: d.key, imei: d.imei, tac: d.tac, issuingBody: d.issuingBody };
}
