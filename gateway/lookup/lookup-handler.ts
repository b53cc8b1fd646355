/**
 * FederationService.Lookup: one device, every registry (or the named ones),
 * one verdict. The caller's deadline bounds everything: the answer leaves
 * before it with whatever the registries said by then.
 */
import { create } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { requireDevice } from "../../device/index.js";
import { invalidArgument, quote } from "../../errors/index.js";
import { FederationService, LookupResponseSchema, UnansweredReason, UnansweredSchema, type LookupResponse } from "../../gen/imeifed/v1/federation_pb.js";
import { SightingKind } from "../../gen/imeifed/v1/registry_pb.js";
import type { CallContext, HandlerFor } from "../../rpc/index.js";
import { auditDetails } from "../../trust/audit/index.js";
import { callerOf, requesterOf } from "../../trust/principal.js";
import { requirePurpose } from "../../trust/purpose.js";
import type { GatewayContext } from "../gateway-context.js";
import { defaultCallerDeadline } from "../upstream/upstream-deadline.js";
import { verdictName, verdictOf } from "./verdict.js";
import { identityOf } from "../../device/device-identity.js";

const COUNTRY = /^[A-Z]{2}$/;


/**
 * Splits the requested countries into the ones this federation knows and the
 * unknown ones (answered as UNKNOWN_COUNTRY rather than refused, so a caller
 * asking a fixed list of countries still hears from the rest).
 */
export function resolveCountries(gw: GatewayContext, requested: readonly string[], field = "countries"): { known: string[] | undefined; unknown: string[] } {
  if (requested.length === 0) return { known: undefined, unknown: [] };
  const known: string[] = [];
  const unknown: string[] = [];
  requested.forEach((raw, i) => {
    const country = raw.trim().toUpperCase();
    if (!COUNTRY.test(country)) throw invalidArgument(`${field}[${i}]`, "COUNTRY_FORMAT", `${quote(raw)} is not an ISO 3166-1 alpha-2 code such as GB`);
    const list = gw.linkFor(country) ? known : unknown;
    if (!list.includes(country)) list.push(country);
  });
  return { known, unknown };
}

/** Builds the Lookup handler. */
export function createLookupHandler(gw: GatewayContext): HandlerFor<(typeof FederationService)["method"]["lookup"]> {
  const rule = { capMs: gw.config.deadlines.upstreamMaxMs, marginMs: gw.config.deadlines.marginMs };
  const allCountries = gw.links.map((l) => l.country);
  return async (request, ctx): Promise<LookupResponse> => {
    const caller = callerOf(ctx);
    const audit = auditDetails(ctx);
    audit.purpose = request.purpose.trim();
    const purpose = requirePurpose(request.purpose);
    const device = requireDevice(request.imei, "imei");
    audit.deviceKey = device.key;
    const { known, unknown } = resolveCountries(gw, request.countries);
    audit.countries = known ?? allCountries;
    const requester = requesterOf(caller);
    const answer =
      known === undefined || known.length > 0
        ? await gw.checker.check(device.key, {
            ...(known ? { countries: known } : {}),
            deadline: ctx.deadline ?? defaultCallerDeadline(rule),
            requester,
            purpose,
          })
        : { key: device.key, findings: [], unanswered: [], fromCache: false, ageMs: 0 };
    const unanswered = [
      ...answer.unanswered,
      ...unknown.map((country) => create(UnansweredSchema, { country, reason: UnansweredReason.UNKNOWN_COUNTRY, detail: `${country} is not part of this federation` })),
    ];
    const verdict = verdictOf({ findings: answer.findings, unanswered });
    audit.verdict = verdictName(verdict);
    gw.metrics?.lookup?.(audit.verdict);
    const fresh = answer.findings.filter((f) => !f.stale);
    if (fresh.length > 0) gw.tripwire?.hit({ key: device.key, findings: fresh, requester, kind: SightingKind.LOOKUP_HIT, purpose });
    const tac = gw.tac?.lookup(device.tac);
    return create(LookupResponseSchema, {
      device: identityOf(device),
      verdict,
      findings: answer.findings,
      unanswered,
      fromCache: answer.fromCache,
      cacheAge: durationFromMs(answer.ageMs),
      make: tac?.make ?? "",
      model: tac?.model ?? "",
    });
  };
}
