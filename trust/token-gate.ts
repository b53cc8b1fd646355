/**
 * The one way a server turns a bearer token into a verified Caller, whatever
 * the front it arrived on (the gRPC authenticator, the N5g-eir HTTP front,
 * the Diameter front): a token verified before is found in the
 * verified-token cache until it expires; any other is verified in full, and
 * counts against its client address when it fails (the failed-auth limiter).
 * When the trust file is reloaded, the cache is emptied: keys or scopes may
 * have changed.
 */
import { Code, ImeifedError, unauthenticated } from "../errors/index.js";
import { AuthFailureLimiter } from "./auth-failure-limiter.js";
import type { Caller, PrincipalKind, Scope } from "./principal.js";
import { DEFAULT_CLOCK_TOLERANCE_SEC, TokenVerifier } from "./token-verifier.js";
import type { TrustStore } from "./trust-store.js";
import { VerifiedTokenCache } from "./verified-token-cache.js";

export interface TokenGateOptions {
  trust: TrustStore;
  /** This server's principal id (the `aud` tokens must carry). */
  audience: string;
  /** Accepted clock skew (default 30 s). */
  clockToleranceSec?: number;
  /** Longest accepted token lifetime (default 3600 s). */
  maxTokenLifetimeSec?: number;
  /** Most verified tokens remembered (default 10 000). */
  cacheSize?: number;
  /** Failed authentications tolerated per client address per minute (default 300; 0: no limit). */
  failuresPerAddressPerMinute?: number;
  /** The clock, in epoch milliseconds (default `Date.now`). */
  now?: () => number;
}

/** Verified tokens, remembered until expiry, and the limit on failures per address. */
export class TokenGate {
  readonly clockToleranceSec: number;
  readonly #trust: TrustStore;
  readonly #verifier: TokenVerifier;
  readonly #cache: VerifiedTokenCache;
  readonly #failures: AuthFailureLimiter | undefined;
  #trustVersion: number;

  constructor(options: TokenGateOptions) {
    const now = options.now ?? Date.now;
    this.clockToleranceSec = options.clockToleranceSec ?? DEFAULT_CLOCK_TOLERANCE_SEC;
    this.#trust = options.trust;
    this.#verifier = new TokenVerifier({ ...options, now });
    this.#cache = new VerifiedTokenCache({ max: options.cacheSize ?? 10_000, now });
    const maxFailures = options.failuresPerAddressPerMinute ?? 300;
    this.#failures = maxFailures > 0 ? new AuthFailureLimiter({ maxFailures, now }) : undefined;
    this.#trustVersion = options.trust.version;
  }

  /**
   * The caller of `token`: remembered, or verified now. `address`: the client
   * machine it came from (no port), refused at once when it failed too often
   * and counted against when it fails; undefined when the server re-checks a
   * token itself.
   */
  async callerOf(token: string, address: string | undefined): Promise<Caller> {
    if (this.#trust.version !== this.#trustVersion) {
      // Keys or scopes changed: tokens verified under the old trust file must be checked again.
      this.#cache.clear();
      this.#trustVersion = this.#trust.version;
    }
    const cached = this.#cache.get(token, this.clockToleranceSec);
    if (cached) return cached;
    // Only a token that needs its signature checked counts against its address.
    if (address !== undefined) this.#failures?.check(address);
    let caller: Caller;
    try {
      caller = await this.#verifier.verify(token);
    } catch (error) {
      if (address !== undefined && error instanceof ImeifedError && error.code === Code.UNAUTHENTICATED) this.#failures?.fail(address);
      throw error;
    }
    this.#cache.set(token, caller, this.clockToleranceSec);
    return caller;
  }
}

/** The token of an `authorization` header's value (`Bearer <token>`); undefined when no header was sent. */
export function bearerOf(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const match = /^Bearer +(\S+)\s*$/i.exec(value);
  if (!match) throw unauthenticated("TOKEN_MALFORMED", "the authorization header must read \"Bearer <token>\"");
  return match[1]!;
}

/**
 * Checks that a verified caller may use a service: its token carries `scope`
 * and (when `kinds` is given) its principal is of one of those kinds;
 * PERMISSION_DENIED naming what is missing otherwise. `service` names the
 * service in the message.
 */
export function requireAccess(caller: Caller, service: string, scope: Scope, kinds?: readonly PrincipalKind[]): void {
  if (!caller.scopes.has(scope)) {
    throw new ImeifedError(Code.PERMISSION_DENIED, "SCOPE_REQUIRED", `scope ${scope} is required for ${service}; mint a token with scope ${scope}`);
  }
  if (kinds && !kinds.includes(caller.principal.kind)) {
    throw new ImeifedError(Code.PERMISSION_DENIED, "PRINCIPAL_KIND_REFUSED", `${service} is for ${kinds.join(" or ")} principals; ${caller.principal.id} is a ${caller.principal.kind}`);
  }
}
