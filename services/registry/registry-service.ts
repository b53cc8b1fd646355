/**
 * The RegistryService implementation: one handler per method, each in its own
 * module under handlers/, and the scope each method demands of its caller.
 */
import { RegistryService } from "../../gen/imeifed/v1/registry_pb.js";
import type { ServiceImpl } from "../../rpc/index.js";
import type { MethodAccess } from "../../trust/authenticator.js";
import { checkDevice, checkDevices, checkDevicesStream } from "./handlers/check-devices.js";
import { clearDevice } from "./handlers/clear-device.js";
import { reportDevice } from "./handlers/report-device.js";
import { recordSighting, recordSightings, watchSightings } from "./handlers/sightings.js";
import { watchChanges } from "./handlers/watch-changes.js";
import type { RegistryContext } from "./registry-context.js";

/** What each RegistryService method asks of a caller's token (the authenticator enforces it). */
export const REGISTRY_METHOD_SCOPES: Readonly<Record<(typeof RegistryService.methods)[number]["name"], MethodAccess>> = {
  ReportDevice: "devices:report",
  ClearDevice: "devices:report",
  CheckDevice: "devices:check",
  CheckDevices: "devices:check",
  CheckDevicesStream: "devices:check",
  WatchChanges: "devices:watch",
  RecordSighting: "devices:found",
  RecordSightings: "devices:found",
  WatchSightings: "devices:watch",
  // Anyone may fetch the keys that verify this registry's attestations.
  GetKeys: "public",
};

/** The methods that change the registry's records: each is audited before it answers, in the change's own transaction. */
export const REGISTRY_CHANGE_METHODS: readonly string[] = ["ReportDevice", "ClearDevice", "RecordSighting", "RecordSightings"];

/** Builds the handlers over one registry's context. */
export function createRegistryService(rc: RegistryContext): ServiceImpl<typeof RegistryService> {
  return {
    reportDevice: reportDevice(rc),
    clearDevice: clearDevice(rc),
    checkDevice: checkDevice(rc),
    checkDevices: checkDevices(rc),
    checkDevicesStream: checkDevicesStream(rc),
    watchChanges: watchChanges(rc),
    recordSighting: recordSighting(rc),
    recordSightings: recordSightings(rc),
    watchSightings: watchSightings(rc),
    async getKeys() {
      return { jwksJson: JSON.stringify(rc.attestations.publicJwks()), country: rc.country };
    },
  };
}
