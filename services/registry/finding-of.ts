/**
 * Turns a stored record into the Finding a requester receives: the
 * registry's full finding first (with the case token the requester may see),
 * then the sharing policy for the real requester. Owner contact is not in a
 * StoredRecord, so it cannot end up here.
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { FindingSchema, type Finding } from "../../gen/imeifed/v1/device_pb.js";
import { Code, ImeifedError } from "../../errors/index.js";
import { applySharing, sharingFor, sharingRefusal, type SharingPolicy } from "../../trust/sharing-policy.js";
import type { Actor } from "../../trust/principal.js";
import { caseTokenFor } from "./case-token.js";
import type { StoredRecord } from "./store/registry-store.js";

/** The finding as the registry holds it, before sharing; `caseToken` is what the requester may see. */
export function fullFinding(record: StoredRecord, country: string, caseToken: string, attestation: string): Finding {
  return create(FindingSchema, {
    country,
    deviceKey: record.deviceKey,
    status: record.status,
    reason: record.reason,
    sourceReasonCode: record.sourceReasonCode,
    ...(record.occurredAt !== undefined ? { occurredAt: timestampFromMs(record.occurredAt) } : {}),
    reportedAt: timestampFromMs(record.reportedAt),
    reportingAgency: record.agency,
    verified: record.crimeReference !== "",
    caseToken,
    make: record.make,
    model: record.model,
    attestation,
  });
}

/** Everything needed to show findings to one requester. */
export interface FindingAudience {
  readonly country: string;
  readonly requester: Actor;
  readonly policy: SharingPolicy;
  readonly caseTokenSecret: Buffer;
}

/**
 * Refuses, up front, a requester the sharing policy shares nothing with: the
 * refusal must not depend on whether the asked device is listed.
 */
export function assertSharedWith(audience: Pick<FindingAudience, "requester" | "policy">): void {
  const refusal = sharingRefusal(audience.requester, audience.policy);
  if (refusal !== undefined) throw new ImeifedError(Code.PERMISSION_DENIED, "SHARING_REFUSED", refusal);
}

/** The finding `audience.requester` may see of a record. */
export function sharedFinding(record: StoredRecord, attestation: string, audience: FindingAudience): Finding {
  // The keyed hash costs an HMAC per finding: skip it for requesters the policy withholds it from.
  const treatment = sharingFor(audience.requester, audience.policy);
  const caseTokenWithheld = "withhold" in treatment && treatment.withhold.includes("case_token");
  const caseToken = caseTokenWithheld ? "" : caseTokenFor(record, audience.requester.id, audience.caseTokenSecret);
  const finding = fullFinding(record, audience.country, caseToken, attestation);
  const shared = applySharing(finding, audience.requester, audience.policy);
  if ("refused" in shared) throw new ImeifedError(Code.PERMISSION_DENIED, "SHARING_REFUSED", shared.refused);
  return shared.finding;
}
