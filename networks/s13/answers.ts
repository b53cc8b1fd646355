/**
 * Answers as RFC 6733 shapes them: the request's command code, application
 * id, P bit, hop-by-hop and end-to-end ids echoed; Session-Id first when the
 * request had one; this peer's Origin-Host and Origin-Realm; the E bit on
 * protocol errors (3xxx) and only there (§7.1); Failed-AVP naming what to fix.
 */
import { AVP, findAvp, avpOf, type DiameterAvp, type DiameterMessage } from "./diameter/index.js";

/** Who this peer is, as it tells its peers. */
export interface LocalIdentity {
  readonly originHost: string;
  readonly originRealm: string;
  /** Changes at each start, so peers can tell a restart (RFC 6733 §8.16). */
  readonly originStateId: number;
  readonly productName: string;
}

/** An answer to `request` carrying `avps` after Session-Id, Origin-Host and Origin-Realm. */
export function answerTo(request: DiameterMessage, identity: LocalIdentity, avps: readonly DiameterAvp[], options: { error?: boolean } = {}): DiameterMessage {
  const sessionId = findAvp(request.avps, AVP.SessionId);
  return {
    request: false,
    proxiable: request.proxiable,
    error: options.error ?? false,
    retransmitted: false,
    commandCode: request.commandCode,
    applicationId: request.applicationId,
    hopByHop: request.hopByHop,
    endToEnd: request.endToEnd,
    avps: [...(sessionId ? [sessionId] : []), avpOf(AVP.OriginHost, identity.originHost), avpOf(AVP.OriginRealm, identity.originRealm), ...avps],
  };
}

/**
 * An answer carrying only a Result-Code (and, to say what was wrong, a Failed-AVP and an Error-Message).
 * `failedAvp` is the offending AVP, or for a missing one an AVP of that code with empty data (§7.5).
 */
export function resultAnswer(
  request: DiameterMessage,
  identity: LocalIdentity,
  resultCode: number,
  detail: { failedAvp?: DiameterAvp; errorMessage?: string; extra?: readonly DiameterAvp[] } = {},
): DiameterMessage {
  const avps: DiameterAvp[] = [avpOf(AVP.ResultCode, resultCode), ...(detail.extra ?? [])];
  if (detail.errorMessage !== undefined) avps.push(avpOf(AVP.ErrorMessage, detail.errorMessage));
  if (detail.failedAvp) avps.push(avpOf(AVP.FailedAvp, [detail.failedAvp]));
  return answerTo(request, identity, avps, { error: resultCode >= 3000 && resultCode < 4000 });
}

/** An AVP of `definition` with empty data: how Failed-AVP names an AVP that is missing (RFC 6733 §7.5). */
export function missingAvp(definition: { code: number; vendorId: number; mandatory: boolean }): DiameterAvp {
  return { code: definition.code, vendorId: definition.vendorId, mandatory: definition.mandatory, protected: false, data: Buffer.alloc(0) };
}
