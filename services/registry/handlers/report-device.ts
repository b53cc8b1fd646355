/**
 * ReportDevice: a police force lists a device (all its IMEIs) as PROHIBITED
 * or TRACKED under its case reference. The reporting agency is the verified
 * requester, never a request field.
 */
import { timestampMs } from "@bufbuild/protobuf/wkt";
import type { ReportDeviceRequest } from "../../../gen/imeifed/v1/registry_pb.js";
import type { CallContext, HandlerFor } from "../../../rpc/index.js";
import { requesterOf } from "../../../trust/principal.js";
import { auditDetails, batchDigest, changeAudit } from "../../../trust/audit/index.js";
import type { ReportOutcome } from "../store/registry-store.js";
import type { RegistryService } from "../../../gen/imeifed/v1/registry_pb.js";
import { type RegistryContext } from "../registry-context.js";
import { callerOf } from "../../../trust/principal.js";
import { reportInputFrom } from "../report-input.js";
import { identityOf } from "../../../device/device-identity.js";

function reportVerdict(outcomes: readonly ReportOutcome[]): string {
  return outcomes.every((o) => !o.created) ? "REPLAY" : "REPORTED";
}

export function reportDevice(rc: RegistryContext): HandlerFor<typeof RegistryService.method.reportDevice> {
  return async (request: ReportDeviceRequest, ctx: CallContext) => {
    const agency = requesterOf(callerOf(ctx)).id;
    const input = reportInputFrom(
      {
        imeis: request.imeis,
        status: request.status,
        reason: request.reason,
        sourceReasonCode: request.sourceReasonCode,
        caseReference: request.caseReference,
        occurredAt: request.occurredAt ? timestampMs(request.occurredAt) : undefined,
        make: request.make,
        model: request.model,
        crimeReference: request.verification?.crimeReference ?? "",
        owner: request.ownerContact
          ? { name: request.ownerContact.name, phone: request.ownerContact.phone, email: request.ownerContact.email }
          : undefined,
      },
      agency,
    );
    const audit = auditDetails(ctx);
    if (input.deviceKeys.length === 1) audit.deviceKey = input.deviceKeys[0];
    else {
      audit.batchDigest = batchDigest(input.deviceKeys);
      audit.batchSize = input.deviceKeys.length;
    }
    audit.purpose = input.caseReference;
    // The entry is written in the report's own transaction: no acknowledged report goes unrecorded.
    const outcomes = await rc.store.report(input, changeAudit(ctx, reportVerdict));
    audit.verdict = reportVerdict(outcomes);
    return {
      devices: outcomes.map((o) => ({
        recordId: o.record.id,
        device: identityOf(o.record.deviceKey),
        created: o.created,
        sequence: BigInt(o.sequence),
      })),
    };
  };
}
