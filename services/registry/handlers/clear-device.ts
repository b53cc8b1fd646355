/**
 * ClearDevice: the reporting agency (or this registry's administrator) makes
 * a listed device PERMITTED again. The record stays, with who cleared it,
 * when and why.
 */
import { ClearReason } from "../../../gen/imeifed/v1/device_pb.js";
import type { ClearDeviceRequest, RegistryService } from "../../../gen/imeifed/v1/registry_pb.js";
import { invalidArgument } from "../../../errors/index.js";
import { requireDevice } from "../../../device/index.js";
import type { CallContext, HandlerFor } from "../../../rpc/index.js";
import { requesterOf, type Caller } from "../../../trust/principal.js";
import { auditDetails, changeAudit } from "../../../trust/audit/index.js";
import type { ClearOutcome } from "../store/registry-store.js";
import { DeviceStatus } from "../../../gen/imeifed/v1/device_pb.js";
import { type RegistryContext } from "../registry-context.js";
import { callerOf } from "../../../trust/principal.js";
import { identityOf } from "../../../device/device-identity.js";

/**
 * This registry's administrator: a principal (not an actor relayed by a
 * gateway) of this registry's country holding `registry:admin`.
 */
export function isRegistryAdmin(caller: Caller, country: string): boolean {
  return caller.actor === undefined && caller.scopes.has("registry:admin") && caller.principal.country === country;
}

function clearVerdict(outcome: ClearOutcome): string {
  return DeviceStatus[outcome.status];
}

export function clearDevice(rc: RegistryContext): HandlerFor<typeof RegistryService.method.clearDevice> {
  return async (request: ClearDeviceRequest, ctx: CallContext) => {
    const caller = callerOf(ctx);
    const device = requireDevice(request.imei, "imei");
    if (request.reason === ClearReason.UNSPECIFIED || ClearReason[request.reason] === undefined) {
      throw invalidArgument("reason", "CLEAR_REASON_MISSING", "must say why: RECOVERED, RETURNED, REPORTED_IN_ERROR or RESOLVED");
    }
    const audit = auditDetails(ctx);
    audit.deviceKey = device.key;
    audit.purpose = request.caseReference;
    // The entry is written in the clearing's own transaction.
    const outcome = await rc.store.clear(
      {
        deviceKey: device.key,
        requester: requesterOf(caller).id,
        isAdmin: isRegistryAdmin(caller, rc.country),
        caseReference: request.caseReference.trim(),
        reason: request.reason,
        note: request.note.trim(),
      },
      changeAudit(ctx, clearVerdict),
    );
    audit.verdict = clearVerdict(outcome);
    return {
      device: identityOf(device),
      clearedRecordIds: outcome.cleared.map((r) => r.id),
      status: outcome.status,
      sequence: BigInt(outcome.sequence),
    };
  };
}
