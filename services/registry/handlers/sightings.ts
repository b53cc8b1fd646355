/**
 * RecordSighting and WatchSightings: when a listed device surfaces (a foreign
 * lookup or screening hit, or police holding it), the agencies that reported
 * it learn where and whom to call, as India's CEIR tells the police station
 * that took the complaint. Each agency sees only its own cases.
 */
import { timestampFromMs, timestampMs } from "@bufbuild/protobuf/wkt";
import { SightingKind, type RecordSightingRequest, type RegistryService, type WatchSightingsRequest } from "../../../gen/imeifed/v1/registry_pb.js";
import { invalidArgument } from "../../../errors/index.js";
import { requireDevice } from "../../../device/index.js";
import type { CallContext, HandlerFor } from "../../../rpc/index.js";
import { requesterOf } from "../../../trust/principal.js";
import { auditDetails } from "../../../trust/audit/index.js";
import { shuttingDown, type RegistryContext } from "../registry-context.js";
import { callerOf } from "../../../trust/principal.js";
import { assertSharedWith } from "../finding-of.js";

const PAGE = 500;
const TEXT_LIMIT = 500;
const FUTURE_SKEW_MS = 5 * 60_000;

function bounded(value: string, field: string): string {
  if (value.length > TEXT_LIMIT) throw invalidArgument(field, "TOO_LONG", `is ${value.length} characters long; at most ${TEXT_LIMIT} are kept`);
  return value.trim();
}

export function recordSighting(rc: RegistryContext): HandlerFor<typeof RegistryService.method.recordSighting> {
  return async (request: RecordSightingRequest, ctx: CallContext) => {
    const caller = callerOf(ctx);
    const requester = requesterOf(caller);
    // Whether a sighting was recorded says whether the device is listed: refused partners learn nothing.
    assertSharedWith({ requester, policy: rc.sharing });
    const device = requireDevice(request.imei, "imei");
    if (request.kind === SightingKind.UNSPECIFIED || SightingKind[request.kind] === undefined) {
      throw invalidArgument("kind", "SIGHTING_KIND_MISSING", "must be LOOKUP_HIT, SCREENING_HIT or FOUND");
    }
    const now = Date.now();
    const seenAt = request.seenAt ? timestampMs(request.seenAt) : now;
    if (seenAt > now + FUTURE_SKEW_MS) throw invalidArgument("seen_at", "SEEN_IN_FUTURE", "lies in the future; give when the device surfaced");
    // A gateway (or registry) relays sightings of its partners and says who they were;
    // anyone else is the partner, whatever the request claims.
    const relay = caller.principal.kind === "gateway" || caller.principal.kind === "registry";
    const found = request.found
      ? {
          location: bounded(request.found.location, "found.location"),
          holdingAgency: bounded(request.found.holdingAgency, "found.holding_agency"),
          contact: bounded(request.found.contact, "found.contact"),
          note: bounded(request.found.note, "found.note"),
        }
      : undefined;
    const audit = auditDetails(ctx);
    audit.deviceKey = device.key;
    audit.purpose = bounded(request.purpose, "purpose");
    const outcome = await rc.store.recordSighting({
      deviceKey: device.key,
      kind: request.kind,
      seenInCountry: relay && request.seenInCountry ? bounded(request.seenInCountry, "seen_in_country") : requester.country,
      partnerKind: relay && request.partnerKind ? bounded(request.partnerKind, "partner_kind") : requester.kind,
      partnerId: relay && request.partnerId ? bounded(request.partnerId, "partner_id") : requester.id,
      seenAt,
      purpose: audit.purpose,
      found,
    });
    audit.verdict = outcome.recorded ? "SIGHTING_RECORDED" : "NOT_LISTED";
    return { recorded: outcome.recorded, sequence: BigInt(outcome.sequence) };
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
