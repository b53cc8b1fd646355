/**
 * RecordSighting and WatchSightings: when a listed device surfaces (a foreign
 * lookup or screening hit, or police holding it), the agencies that reported
 * it learn where and whom to call, as India's CEIR tells the police station
 * that took the complaint. Each agency sees only its own cases.
 */
import { timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { SightingKind, type RecordSightingRequest, type RecordSightingsRequest, type RegistryService, type WatchSightingsRequest } from "../../../gen/imeifed/v1/registry_pb.js";
import { invalidArgument } from "../../../errors/index.js";
import { requireDevice } from "../../../device/index.js";
import type { CallContext, HandlerFor } from "../../../rpc/index.js";
import { requesterOf, type Actor } from "../../../trust/principal.js";
import { auditDetails, batchDigest, changeAudit } from "../../../trust/audit/index.js";
import type { SightingInput, SightingOutcome } from "../store/registry-store.js";
import { shuttingDown, type RegistryContext } from "../registry-context.js";
import { callerOf } from "../../../trust/principal.js";
import { assertSharedWith } from "../finding-of.js";

const PAGE = 500;
const FUTURE_SKEW_MS = 5 * 60_000;

/** Who reports sightings in a call: the partner itself, or a gateway (or registry) relaying its partners' sightings, which says who they were. */
interface Reporter {
  readonly requester: Actor;
  readonly relay: boolean;
}

/** The caller of a sighting call; refused partners get PERMISSION_DENIED (whether a sighting was recorded says whether the device is listed). */
function reporterOf(rc: RegistryContext, ctx: CallContext): Reporter {
  const caller = callerOf(ctx);
  const requester = requesterOf(caller);
  assertSharedWith({ requester, policy: rc.sharing });
  return { requester, relay: caller.principal.kind === "gateway" || caller.principal.kind === "registry" };
}

/** A sighting request checked and made a store input (its texts' lengths and characters were checked as it entered: contract/); `field` prefixes the names in errors (`sightings[3].`). */
function sightingInputOf(request: RecordSightingRequest, { requester, relay }: Reporter, now: number, field = ""): SightingInput {
  const device = requireDevice(request.imei, `${field}imei`);
  if (request.kind === SightingKind.UNSPECIFIED || SightingKind[request.kind] === undefined) {
    throw invalidArgument(`${field}kind`, "SIGHTING_KIND_MISSING", "must be LOOKUP_HIT, SCREENING_HIT, FOUND or NETWORK_ATTACH");
  }
  const seenAt = request.seenAt ? timestampMs(request.seenAt) : now;
  if (seenAt > now + FUTURE_SKEW_MS) throw invalidArgument(`${field}seen_at`, "SEEN_IN_FUTURE", "lies in the future; give when the device surfaced");
  const found = request.found
    ? {
        location: request.found.location.trim(),
        holdingAgency: request.found.holdingAgency.trim(),
        contact: request.found.contact.trim(),
        note: request.found.note.trim(),
      }
    : undefined;
  // Anyone but a relay is the partner, whatever the request claims.
  return {
    deviceKey: device.key,
    kind: request.kind,
    seenInCountry: relay && request.seenInCountry ? request.seenInCountry.trim() : requester.country,
    partnerKind: relay && request.partnerKind ? request.partnerKind.trim() : requester.kind,
    partnerId: relay && request.partnerId ? request.partnerId.trim() : requester.id,
    seenAt,
    purpose: request.purpose.trim(),
    found,
  };
}

function sightingVerdict([outcome]: readonly SightingOutcome[]): string {
  return outcome!.recorded ? "SIGHTING_RECORDED" : "NOT_LISTED";
}

function sightingsVerdict(outcomes: readonly SightingOutcome[]): string {
  const recorded = outcomes.filter((o) => o.recorded).length;
  return `SIGHTING_RECORDED:${recorded} NOT_LISTED:${outcomes.length - recorded}`;
}

export function recordSighting(rc: RegistryContext): HandlerFor<typeof RegistryService.method.recordSighting> {
  return async (request: RecordSightingRequest, ctx: CallContext) => {
    const input = sightingInputOf(request, reporterOf(rc, ctx), Date.now());
    const audit = auditDetails(ctx);
    audit.deviceKey = input.deviceKey;
    audit.purpose = input.purpose;
    // The entry is written in the sighting's own transaction.
    const [outcome] = await rc.store.recordSightings([input], changeAudit(ctx, sightingVerdict));
    audit.verdict = sightingVerdict([outcome!]);
    return { recorded: outcome!.recorded, sequence: BigInt(outcome!.sequence) };
  };
}

/**
 * RecordSightings: many sightings, one call, one transaction (a screening's
 * hits). All are checked before any is kept; the audit entry names the batch
 * by its digest and size, its purposes, and how many were recorded.
 */
export function recordSightings(rc: RegistryContext): HandlerFor<typeof RegistryService.method.recordSightings> {
  return async (request: RecordSightingsRequest, ctx: CallContext) => {
    const count = request.sightings.length;
    if (count > rc.batchLimit) {
      throw invalidArgument("sightings", "BATCH_TOO_LARGE", `holds ${count} sightings; this registry records at most ${rc.batchLimit} per call: split the batch`);
    }
    const reporter = reporterOf(rc, ctx);
    const now = Date.now();
    const inputs = request.sightings.map((s, i) => sightingInputOf(s, reporter, now, `sightings[${i}].`));
    const audit = auditDetails(ctx);
    audit.batchDigest = batchDigest(inputs.map((i) => i.deviceKey));
    audit.batchSize = count;
    audit.purpose = [...new Set(inputs.map((i) => i.purpose))].join("; ");
    const outcomes = await rc.store.recordSightings(inputs, changeAudit(ctx, sightingsVerdict));
    audit.verdict = sightingsVerdict(outcomes);
    return { results: outcomes.map((o) => ({ recorded: o.recorded, sequence: BigInt(o.sequence) })) };
  };
}

export function watchSightings(rc: RegistryContext): HandlerFor<typeof RegistryService.method.watchSightings> {
  return async function* (request: WatchSightingsRequest, ctx: CallContext) {
    const agency = requesterOf(callerOf(ctx)).id;
    const { store } = rc;
    let after = Number(request.afterSequence);
    for (;;) {
      if (rc.closing()) throw shuttingDown();
      const version = store.sightingFeed.version;
      const page = await store.sightingsAfter(agency, after, PAGE);
      for (const s of page) {
        yield {
          sighting: {
            sequence: BigInt(s.seq),
            kind: s.kind,
            deviceKey: s.deviceKey,
            seenInCountry: s.seenInCountry,
            partnerKind: s.partnerKind,
            partnerId: s.partnerId,
            seenAt: timestampFromMs(s.seenAt),
            caseReference: s.caseReference,
            recordId: s.recordId,
            ...(s.found ? { found: s.found } : {}),
            purpose: s.purpose,
          },
        };
        after = s.seq;
      }
      if (page.length === PAGE) continue;
      if (!(await store.sightingFeed.wait(version, ctx.signal))) return;
    }
  };
}
