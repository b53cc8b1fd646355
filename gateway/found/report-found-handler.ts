/**
 * FederationService.ReportFound, the road home: police or customs holding a
 * device report it found (where, by which agency, how to reach them). The
 * gateway asks the federation which registries list the device (through the
 * single upstream path) and tells each of them with a FOUND sighting, which the
 * registry records against the case so the reporting agency hears of it. The
 * answer names the countries that recorded it and those that could not be told.
 *
 * A registry that answers `recorded: false` (its record was cleared meanwhile)
 * is neither notified nor unanswered: it heard, and had nothing to record.
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { requireDevice } from "../../device/index.js";
import { Code, ImeifedError, invalidArgument } from "../../errors/index.js";
import {
  FederationService,
  ReportFoundResponseSchema,
  UnansweredReason,
  UnansweredSchema,
  type ReportFoundResponse,
  type Unanswered,
} from "../../gen/imeifed/v1/federation_pb.js";
import { SightingKind } from "../../gen/imeifed/v1/registry_pb.js";
import type { HandlerFor } from "../../rpc/index.js";
import { auditDetails } from "../../trust/audit/audit-interceptor.js";
import { requesterOf } from "../../trust/principal.js";
import { requirePurpose } from "../../trust/purpose.js";
import type { GatewayContext } from "../gateway-context.js";
import { callerOf } from "../../trust/principal.js";
import { defaultCallerDeadline, upstreamDeadline } from "../upstream/upstream-deadline.js";
import { identityOf } from "../../device/device-identity.js";
import { isListed } from "../lookup/verdict.js";

/** A found report's detail, trimmed (its length and characters were checked as the request entered: contract/). */
function text(value: string, field: string, required: boolean): string {
  const trimmed = value.trim();
  if (required && trimmed === "") throw invalidArgument(field, "FOUND_DETAIL_REQUIRED", "is required: the owning agency needs it to get the device back");
  return trimmed;
}

/** Why a registry could not be told, in the federation's unanswered vocabulary. */
function unansweredReasonOf(error: unknown): UnansweredReason {
  const code = error instanceof ImeifedError ? error.code : Code.UNAVAILABLE;
  if (code === Code.DEADLINE_EXCEEDED || code === Code.CANCELLED) return UnansweredReason.DEADLINE;
  if (code === Code.PERMISSION_DENIED || code === Code.UNAUTHENTICATED) return UnansweredReason.REFUSED;
  return UnansweredReason.UNAVAILABLE;
}

/** Builds the ReportFound handler. */
export function createReportFoundHandler(gw: GatewayContext): HandlerFor<(typeof FederationService)["method"]["reportFound"]> {
  const rule = { capMs: gw.config.deadlines.upstreamMaxMs, marginMs: gw.config.deadlines.marginMs };
  return async (request, ctx): Promise<ReportFoundResponse> => {
    const caller = callerOf(ctx);
    const requester = requesterOf(caller);
    const purpose = requirePurpose(request.purpose);
    const device = requireDevice(request.imei, "imei");
    const audit = auditDetails(ctx);
    audit.deviceKey = device.key;
    audit.purpose = purpose;
    const details = request.found;
    if (!details) throw invalidArgument("found", "FOUND_DETAILS_REQUIRED", "is required: say where the device is, which agency holds it and how to reach them");
    const found = {
      location: text(details.location, "found.location", true),
      holdingAgency: text(details.holdingAgency, "found.holding_agency", false) || caller.principal.name || requester.id,
      contact: text(details.contact, "found.contact", true),
      note: text(details.note, "found.note", false),
    };
    const deadline = ctx.deadline ?? defaultCallerDeadline(rule);
    const answer = await gw.checker.check(device.key, { deadline, requester, purpose });
    const owners = [
      ...new Set(
        answer.findings
          .map((f) => f.finding)
          .filter((f) => f !== undefined && isListed(f.status))
          .map((f) => f!.country),
      ),
    ];
    const unanswered: Unanswered[] = answer.unanswered.filter((u) => !owners.includes(u.country));
    const notified: string[] = [];
    const seenAt = timestampFromDate(new Date());
    await Promise.all(
      owners.map(async (country) => {
        const link = gw.linkFor(country);
        if (!link || link.kind !== "registry") {
          unanswered.push(create(UnansweredSchema, { country, reason: UnansweredReason.UNKNOWN_COUNTRY, detail: `no registry link for ${country}` }));
          return;
        }
        try {
          const response = await link.client.recordSighting(
            {
              imei: device.imei,
              kind: SightingKind.FOUND,
              seenInCountry: requester.country,
              partnerKind: requester.kind,
              partnerId: requester.id,
              seenAt,
              found,
              purpose,
            },
            { deadline: upstreamDeadline(deadline, rule), metadata: await link.metadata(requester, ["devices:found"]), signal: ctx.signal },
          );
          if (response.recorded) notified.push(country);
        } catch (error) {
          unanswered.push(
            create(UnansweredSchema, {
              country,
              reason: unansweredReasonOf(error),
              detail: `the found report could not be delivered: ${error instanceof ImeifedError ? error.message : "registry unreachable"}`,
            }),
          );
        }
      }),
    );
    audit.countries = [...notified].sort();
    audit.verdict = notified.length > 0 ? "FOUND_NOTIFIED" : owners.length > 0 ? "FOUND_UNDELIVERED" : "FOUND_UNLISTED";
    return create(ReportFoundResponseSchema, {
      device: identityOf(device),
      notifiedCountries: notified.sort(),
      unanswered: unanswered.sort((a, b) => a.country.localeCompare(b.country)),
    });
  };
}
