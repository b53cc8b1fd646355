/**
 * ME-Identity-Check (TS 29.272 §5.2.4, §7.2.19/20) on the shared equipment
 * check: the request's IMEI, the peer's operator principal and its policy go
 * to networks/equipment-check.ts, and its verdict comes back as Result-Code
 * 2001 with Equipment-Status (0 WHITELISTED, 1 BLACKLISTED, 2 GREYLISTED),
 * or Experimental-Result 5422 for a device no registry lists when the
 * operator asks for that. A check that fails, or has no verdict when the
 * operator's budget ends, is answered 5012 DIAMETER_UNABLE_TO_COMPLY.
 *
 * What must stay true: User-Name (the IMSI) is never read here (nor by the
 * request reader), so it cannot reach the check, its audit, a sighting, a
 * log line or a span. Session-Id is echoed, never logged.
 */
import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { ImeifedError } from "../../errors/index.js";
import { TRACER_NAME, recordDevice } from "../../observability/index.js";
import type { Logger } from "../../observability/logger.js";
import type { Caller, Principal } from "../../trust/principal.js";
import type { EquipmentCheck, EquipmentVerdict } from "../equipment-check.js";
import { equipmentIdentityOf } from "../equipment-check.js";
import { policyFor, type FrontPolicy } from "../operator-policy.js";
import { answerTo, resultAnswer, type LocalIdentity } from "./answers.js";
import { AUTH_SESSION_STATE, AVP, EQUIPMENT_STATUS, EXPERIMENTAL_RESULT_CODE, RESULT_CODE, VENDOR_3GPP, avpOf, type DiameterMessage } from "./diameter/index.js";
import { readMeIdentityCheck } from "./me-identity-check-request.js";
import type { ApplicationHandler } from "./peer-connection.js";
import type { KnownPeer } from "./peer-table.js";
import type { OnUnknown } from "./s13-config.js";

/** How the S13 front names its checks in the audit and to the registries. */
export const S13_FRONT = { method: "S13.ME-Identity-Check", purpose: "s13" } as const;

/** The Diameter answer of a verdict. */
export function answerOfVerdict(request: DiameterMessage, identity: LocalIdentity, verdict: EquipmentVerdict, onUnknown: OnUnknown): DiameterMessage {
  const state = avpOf(AVP.AuthSessionState, AUTH_SESSION_STATE.NO_STATE_MAINTAINED);
  if (verdict.basis === "not-listed" && onUnknown === "EQUIPMENT_UNKNOWN") {
    return answerTo(request, identity, [avpOf(AVP.ExperimentalResult, [avpOf(AVP.VendorId, VENDOR_3GPP), avpOf(AVP.ExperimentalResultCode, EXPERIMENTAL_RESULT_CODE.EQUIPMENT_UNKNOWN)]), state]);
  }
  return answerTo(request, identity, [avpOf(AVP.ResultCode, RESULT_CODE.SUCCESS), state, avpOf(AVP.EquipmentStatus, EQUIPMENT_STATUS[verdict.status])]);
}

export interface MeIdentityCheckOptions {
  readonly identity: LocalIdentity;
  readonly check: Pick<EquipmentCheck, "check">;
  readonly policy: FrontPolicy;
  /** The front's `onUnknown` and each peer's own, by principal id. */
  readonly onUnknown: (principal: string) => OnUnknown;
  /** The principal of the trust file as it is now (a reload may have removed it). */
  readonly principal: (id: string) => Principal | undefined;
  /** Counts a check of a principal in (throws RESOURCE_EXHAUSTED past its limit); returns what counts it out (trust/admission.ts's Admission fits). */
  readonly admission: { admit(key: string, stream: boolean): () => void };
  /** Per-principal call quotas (trust/quota.ts's QuotaLimiter fits); none: unlimited. */
  readonly quota?: { takeCall(principalId: string): void } | undefined;
  readonly log: Logger;
}

export function meIdentityCheckHandler(options: MeIdentityCheckOptions): ApplicationHandler {
  const { identity, log } = options;
  const withState = [avpOf(AVP.AuthSessionState, AUTH_SESSION_STATE.NO_STATE_MAINTAINED)];
  return async (request: DiameterMessage, peer: KnownPeer) => {
    const receivedAt = Date.now();
    const read = readMeIdentityCheck(request);
    if (!read.ok) {
      log.info("ME-Identity-Check refused", { peer: peer.originHost, resultCode: read.refused.resultCode, detail: read.refused.errorMessage });
      return resultAnswer(request, identity, read.refused.resultCode, { failedAvp: read.refused.failedAvp, errorMessage: read.refused.errorMessage, extra: withState });
    }
    const principal = options.principal(peer.principal);
    if (!principal || principal.kind !== "operator") {
      log.warn("ME-Identity-Check from a peer whose principal is no longer an operator of the trust file", { peer: peer.originHost, principal: peer.principal });
      return resultAnswer(request, identity, RESULT_CODE.AUTHORIZATION_REJECTED, { errorMessage: `${peer.originHost} asks as ${peer.principal}, which the trust file no longer lists as an operator`, extra: withState });
    }
    const policy = policyFor(options.policy, principal.id);
    // Diameter carries no token: the peer's capabilities exchange is its authentication, for as long as the connection lasts.
    const operator: Caller = { principal, scopes: new Set(["n5g-eir-eic"]), expiresAt: Number.MAX_SAFE_INTEGER };
    const span = trace.getTracer(TRACER_NAME).startSpan("S13/ME-Identity-Check", { kind: SpanKind.SERVER, attributes: { "rpc.system": "diameter", "imeifed.principal": principal.id } });
    recordDevice(read.question.imei, span);
    let timer: NodeJS.Timeout | undefined;
    let release: (() => void) | undefined;
    try {
      release = options.admission.admit(principal.id, false);
      options.quota?.takeCall(principal.id);
    } catch (error) {
      release?.();
      span.end();
      const refusal = ImeifedError.from(error);
      log.info("ME-Identity-Check refused by admission or quota", { peer: peer.originHost, reason: refusal.reason });
      return resultAnswer(request, identity, RESULT_CODE.TOO_BUSY, { errorMessage: refusal.message, extra: withState });
    }
    try {
      const device = equipmentIdentityOf(read.question.imei, "IMEI");
      const outOfBudget = new Promise<"out-of-budget">((resolve) => {
        timer = setTimeout(() => resolve("out-of-budget"), Math.max(0, receivedAt + policy.budgetMs - Date.now()));
      });
      const verdict = await Promise.race([options.check.check({ device, operator, policy, receivedAt }), outOfBudget]);
      if (verdict === "out-of-budget") {
        span.setStatus({ code: SpanStatusCode.ERROR, message: "no verdict within the budget" });
        log.warn("ME-Identity-Check had no verdict within the budget", { peer: peer.originHost, budgetMs: policy.budgetMs });
        return resultAnswer(request, identity, RESULT_CODE.UNABLE_TO_COMPLY, { errorMessage: `no answer within the ${policy.budgetMs} ms budget`, extra: withState });
      }
      const answer = answerOfVerdict(request, identity, verdict, options.onUnknown(principal.id));
      span.setAttributes({ "imeifed.equipment_status": verdict.status, "imeifed.verdict_basis": verdict.basis });
      return answer;
    } catch (error) {
      const failure = ImeifedError.from(error);
      span.setStatus({ code: SpanStatusCode.ERROR, message: failure.reason });
      log.warn("ME-Identity-Check could not be answered", { peer: peer.originHost, reason: failure.reason, error: failure.message });
      return resultAnswer(request, identity, RESULT_CODE.UNABLE_TO_COMPLY, { errorMessage: "the federation could not answer this check; retry later", extra: withState });
    } finally {
      clearTimeout(timer);
      release();
      span.end();
    }
  };
}
