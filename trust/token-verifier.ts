/**
 * Verifies one partner token (a JWT) against the trust store and turns it
 * into a Caller. Each failure has a stable reason and a message that tells the
 * partner what to fix; none of them depends on any device.
 *
 * Rules: ES256 or EdDSA only (`none` and HMAC refused before any key is
 * looked up); `iss` a trusted principal whose key (by `kid`) signed the token;
 * `aud` this server; `exp` and `iat` present; `nbf`/`exp`/`iat` within a small
 * clock tolerance; `exp - iat` at most the maximum lifetime; `sub`, when
 * present, equal to `iss`; the `scope` claim within the principal's scopes;
 * an `act` claim only from a gateway or a registry.
 */
import { decodeJwt, decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTPayload } from "jose";
import { Code, ImeifedError, unauthenticated, permissionDenied } from "../errors/index.js";
import { PRINCIPAL_KINDS, SCOPES, type Actor, type Caller, type Principal, type PrincipalKind, type Scope } from "./principal.js";
import { isSigningAlgorithm, SIGNING_ALGORITHMS } from "./keys.js";
import type { TrustStore } from "./trust-store.js";

/** Principal kinds that may call on someone else's behalf (carry an `act` claim). */
export const DELEGATING_KINDS: readonly PrincipalKind[] = ["gateway"];

export interface TokenVerifierOptions {
  trust: TrustStore;
  /** This server's principal id; tokens must name it in `aud`. */
  audience: string;
  /** Accepted clock skew between signer and verifier (default 30 s). */
  clockToleranceSec?: number;
  /** Longest accepted `exp - iat` (default 3600 s): a leaked token is useful for an hour at most. */
  maxTokenLifetimeSec?: number;
  /** The clock, in epoch milliseconds (default `Date.now`); tests freeze it. */
  now?: () => number;
}

/** Longest token a partner may hold, by default. */
export const DEFAULT_MAX_TOKEN_LIFETIME_SEC = 3600;
/** Accepted clock skew, by default. */
export const DEFAULT_CLOCK_TOLERANCE_SEC = 30;
/** Tokens longer than this are refused unparsed (gRPC metadata is limited to a few KB anyway). */
const MAX_TOKEN_LENGTH = 8 * 1024;

function iso(epochSec: unknown): string {
  return typeof epochSec === "number" && Number.isFinite(epochSec) ? new Date(epochSec * 1000).toISOString() : String(epochSec);
}

function audienceText(aud: unknown): string {
  if (Array.isArray(aud)) return aud.length === 0 ? "empty" : aud.join(", ");
  return aud === undefined ? "missing" : String(aud);
}

/** Parses the space-separated `scope` claim and checks it against what the principal may hold. */
function grantedScopes(claim: unknown, principal: Principal): Set<Scope> {
  if (claim === undefined) return new Set();
  if (typeof claim !== "string") throw unauthenticated("TOKEN_MALFORMED", "the scope claim must be a space-separated string such as \"devices:check devices:screen\"");
  const scopes = new Set<Scope>();
  for (const word of claim.split(" ").filter(Boolean)) {
    if (!(SCOPES as readonly string[]).includes(word)) {
      throw permissionDenied("SCOPE_UNKNOWN", `scope ${word} is not an imeifed scope; use some of ${SCOPES.join(", ")}`);
    }
    if (!principal.scopes.includes(word as Scope)) {
      throw permissionDenied(
        "SCOPE_NOT_GRANTED",
        `token asks for scope ${word}, which ${principal.id} may not hold here (it may hold: ${principal.scopes.join(", ") || "none"}); mint the token with fewer scopes`,
      );
    }
    scopes.add(word as Scope);
  }
  return scopes;
}

/** Reads the RFC 8693 style `act` claim naming the real requester. */
function actorOf(claim: unknown, principal: Principal, trust: Pick<TrustStore, "principal">): Actor | undefined {
  if (claim === undefined) return undefined;
  if (!DELEGATING_KINDS.includes(principal.kind)) {
    throw permissionDenied("ACT_NOT_ALLOWED", `${principal.id} is a ${principal.kind} and may not call on someone's behalf; drop the act claim`);
  }
  const act = claim as Record<string, unknown>;
  if (typeof act !== "object" || act === null || Array.isArray(act)) {
    throw unauthenticated("TOKEN_BAD_ACT", "the act claim must be an object {sub, kind, country}");
  }
  if (typeof act.sub !== "string" || act.sub === "") throw unauthenticated("TOKEN_BAD_ACT", "act.sub must name the real requester's principal id");
  if (typeof act.kind !== "string" || !(PRINCIPAL_KINDS as readonly string[]).includes(act.kind)) {
    throw unauthenticated("TOKEN_BAD_ACT", `act.kind must be one of ${PRINCIPAL_KINDS.join(", ")}`);
  }
  if (typeof act.country !== "string" || !/^[A-Z]{2}$/.test(act.country)) {
    throw unauthenticated("TOKEN_BAD_ACT", "act.country must be an ISO 3166-1 alpha-2 code such as GB");
  }
  // A requester this server knows must be named as it is: a gateway cannot promote customs to police.
  const known = trust.principal(act.sub);
  if (known && (known.kind !== act.kind || known.country !== act.country)) {
    throw permissionDenied(
      "ACT_MISMATCH",
      `act names ${act.sub} as ${act.kind} of ${act.country}, but the trust file has ${known.kind} of ${known.country}; name the requester as it is`,
    );
  }
  return { id: act.sub, kind: act.kind as PrincipalKind, country: act.country };
}

/** Translates jose's failures into imeifed's stable reasons and actionable messages. */
function fromJose(error: unknown, issuer: string, audience: string, kid: string | undefined): ImeifedError {
  if (error instanceof ImeifedError) return error;
  if (error instanceof joseErrors.JWTExpired) {
    return unauthenticated("TOKEN_EXPIRED", `token expired at ${iso(error.payload.exp)}; mint a new one`, error);
  }
  if (error instanceof joseErrors.JWTClaimValidationFailed) {
    const { claim, reason, payload } = error;
    if (reason === "missing") return unauthenticated("TOKEN_CLAIM_MISSING", `token has no ${claim} claim; imeifed tokens need iss, aud, iat and exp`, error);
    switch (claim) {
      case "aud":
        return unauthenticated("TOKEN_WRONG_AUDIENCE", `audience is ${audienceText(payload.aud)} but this server is ${audience}; mint a token for ${audience}`, error);
      case "nbf":
        return unauthenticated("TOKEN_NOT_YET_VALID", `token is not valid before ${iso(payload.nbf)}; wait, or check the signer's clock`, error);
      case "iss":
        return unauthenticated("TOKEN_UNKNOWN_ISSUER", `issuer ${String(payload.iss)} is not a trusted principal of this server`, error);
      default:
        return unauthenticated("TOKEN_MALFORMED", `token claim ${claim} is invalid (${error.message})`, error);
    }
  }
  if (error instanceof joseErrors.JWSSignatureVerificationFailed) {
    return unauthenticated("TOKEN_BAD_SIGNATURE", `token signature does not verify with key ${kid ?? "(no kid)"} of ${issuer}; the token was altered or signed with another key`, error);
  }
  if (error instanceof joseErrors.JOSEAlgNotAllowed) {
    return unauthenticated("TOKEN_ALG_REFUSED", `token algorithm is not accepted; sign with ${SIGNING_ALGORITHMS.join(" or ")}`, error);
  }
  if (error instanceof joseErrors.JWSInvalid || error instanceof joseErrors.JWTInvalid || error instanceof joseErrors.JOSENotSupported) {
    return unauthenticated("TOKEN_MALFORMED", `token is not a valid signed JWT (${error.message})`, error);
  }
  return ImeifedError.from(error);
}

/** Verifies partner tokens for one server (one audience). */
export class TokenVerifier {
  readonly trust: TrustStore;
  readonly audience: string;
  readonly clockToleranceSec: number;
  readonly maxTokenLifetimeSec: number;
  readonly #now: () => number;

  constructor(options: TokenVerifierOptions) {
    this.trust = options.trust;
    this.audience = options.audience;
    this.clockToleranceSec = options.clockToleranceSec ?? DEFAULT_CLOCK_TOLERANCE_SEC;
    this.maxTokenLifetimeSec = options.maxTokenLifetimeSec ?? DEFAULT_MAX_TOKEN_LIFETIME_SEC;
    this.#now = options.now ?? Date.now;
  }

  /** Verifies a compact JWT fully (signature and claims) and returns its caller; throws UNAUTHENTICATED or PERMISSION_DENIED. */
  async verify(token: string): Promise<Caller> {
    if (token.length > MAX_TOKEN_LENGTH) throw unauthenticated("TOKEN_MALFORMED", `token is ${token.length} bytes; imeifed tokens are far below ${MAX_TOKEN_LENGTH}`);
    let header;
    let unverified: JWTPayload;
    try {
      header = decodeProtectedHeader(token);
      unverified = decodeJwt(token);
    } catch (error) {
      throw unauthenticated("TOKEN_MALFORMED", "authorization token is not a compact JWT (header.payload.signature, base64url JSON); send the token printed by `imeifed token`", error);
    }
    // Refuse `none` and HMAC before anything else: an HS256 token "signed"
    // with a public key must never reach a verify call.
    if (!isSigningAlgorithm(header.alg)) {
      throw unauthenticated("TOKEN_ALG_REFUSED", `token algorithm ${JSON.stringify(header.alg ?? null)} is not accepted; sign with ${SIGNING_ALGORITHMS.join(" or ")}`);
    }
    const issuer = unverified.iss;
    if (typeof issuer !== "string" || issuer === "") throw unauthenticated("TOKEN_CLAIM_MISSING", "token has no iss claim; set iss to your principal id");
    const principal = this.trust.principal(issuer);
    if (!principal) throw unauthenticated("TOKEN_UNKNOWN_ISSUER", `issuer ${issuer} is not a trusted principal of this server; ask its operator to add ${issuer} to the trust file`);

    const nowMs = this.#now();
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, (h) => this.trust.verificationKey(issuer, h), {
        algorithms: [...SIGNING_ALGORITHMS],
        issuer,
        audience: this.audience,
        requiredClaims: ["exp", "iat"],
        clockTolerance: this.clockToleranceSec,
        currentDate: new Date(nowMs),
      }));
    } catch (error) {
      throw fromJose(error, issuer, this.audience, header.kid);
    }
    const now = nowMs / 1000;
    const exp = payload.exp!;
    const iat = payload.iat!;
    if (iat > now + this.clockToleranceSec) {
      throw unauthenticated("TOKEN_ISSUED_IN_FUTURE", `token was issued at ${iso(iat)}, in the future; check the signer's clock`);
    }
    const lifetime = exp - Math.max(iat, payload.nbf ?? iat);
    if (lifetime > this.maxTokenLifetimeSec) {
      throw unauthenticated("TOKEN_LIFETIME_TOO_LONG", `token lives ${Math.round(lifetime)} s (iat to exp); the maximum is ${this.maxTokenLifetimeSec} s, mint a shorter one`);
    }
    if (payload.sub !== undefined && payload.sub !== issuer) {
      throw unauthenticated("TOKEN_SUBJECT_MISMATCH", `token sub ${payload.sub} differs from iss ${issuer}; a principal signs only for itself (name the real requester in act)`);
    }
    const scopes = grantedScopes(payload.scope, principal);
    const actor = actorOf(payload.act, principal, this.trust);
    return { principal, scopes, expiresAt: exp, ...(actor ? { actor } : {}) };
  }
}
