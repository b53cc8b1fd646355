/**
 * The authentication interceptor: the door every call comes through. It reads
 * `authorization: Bearer <JWT>`, verifies the token (or finds it among tokens
 * verified before), checks that the token carries the scope the method needs,
 * and puts the verified Caller into `ctx.values` under CALLER for handlers,
 * quotas and the audit log.
 *
 * Health and reflection are registered outside the intercepted services, so
 * they are never asked for a token.
 */
import { Code, ImeifedError, unauthenticated } from "../errors/index.js";
import { peerAddress, type CallContext, type ServerInterceptor } from "../rpc/index.js";
import { CALLER, SCOPES, type Caller, type PrincipalKind, type Scope } from "./principal.js";
import { DEFAULT_CLOCK_TOLERANCE_SEC } from "./token-verifier.js";
import type { TrustStore } from "./trust-store.js";
import { bearerOf, requireAccess, TokenGate } from "./token-gate.js";
import { STREAM_EXPIRED } from "./stream-expired.js";

/** What a method demands: a scope, or nothing (`public`: no token needed, but a token sent is still verified). */
export type MethodAccess = Scope | "public";

export interface AuthenticatorOptions {
  trust: TrustStore;
  /** This server's principal id (the `aud` tokens must carry), for example `registry-es`. */
  audience: string;
  /** Per proto method name (`CheckDevice`, `Lookup`, ...): the scope it needs. A method left out is refused to everyone. */
  scopes: Readonly<Record<string, MethodAccess>>;
  /** Per proto method name, the principal kinds allowed to call it (default: any kind holding the scope). */
  kinds?: Readonly<Record<string, readonly PrincipalKind[]>>;
  /** Accepted clock skew (default 30 s). */
  clockToleranceSec?: number;
  /** Longest accepted token lifetime (default 3600 s). */
  maxTokenLifetimeSec?: number;
  /** Most verified tokens remembered (default 10 000). */
  cacheSize?: number;
  /**
   * Failed authentications tolerated per client address per minute; past it,
   * the address's new tokens are refused unverified until the minute is over
   * (auth-failure-limiter.ts). Default 300; 0 turns the limit off.
   */
  failuresPerAddressPerMinute?: number;
  /** The clock, in epoch milliseconds (default `Date.now`); tests freeze it. */
  now?: () => number;
  /** A token gate shared with the server's other fronts (one verified-token cache, one failed-auth limit); default: its own, from the options above. */
  gate?: TokenGate;
}

/** Extracts the bearer token from the call's metadata, or undefined when no authorization header was sent. */
export function bearerToken(ctx: Pick<CallContext, "requestMetadata">): string | undefined {
  const values = ctx.requestMetadata.get("authorization");
  if (values.length === 0) return undefined;
  if (values.length > 1) throw unauthenticated("TOKEN_MALFORMED", "send exactly one authorization header");
  const value = values[0];
  if (typeof value !== "string") throw unauthenticated("TOKEN_MALFORMED", "the authorization header must be text: Bearer <token>");
  return bearerOf(value);
}

/** Builds the interceptor that admits only callers with a valid token and the method's scope. */
export function createAuthenticator(options: AuthenticatorOptions): ServerInterceptor {
  for (const [method, access] of Object.entries(options.scopes)) {
    if (access !== "public" && !(SCOPES as readonly string[]).includes(access)) {
      throw new ImeifedError(Code.FAILED_PRECONDITION, "AUTH_CONFIG_INVALID", `method ${method} asks for unknown scope ${access}; use one of ${SCOPES.join(", ")} or "public"`);
    }
  }
  const now = options.now ?? Date.now;
  const tolerance = options.clockToleranceSec ?? DEFAULT_CLOCK_TOLERANCE_SEC;
  const gate = options.gate ?? new TokenGate({ ...options, now });

  /** The verified caller of `token`; `peer`: the address it came from, counted against when it fails (none: the server re-checks a token itself). */
  function callerOf(token: string, peer: string | undefined): Promise<Caller> {
    return gate.callerOf(token, peer === undefined ? undefined : peerAddress(peer));
  }

  /** The caller of `token` if it may call `ctx.method` (a scope-guarded method) under the trust file in force; `again`: an open stream's re-check, not the caller's attempt. */
  async function admit(ctx: CallContext, token: string, access: Scope | undefined, again = false): Promise<Caller> {
    const caller = await callerOf(token, again ? undefined : ctx.peer);
    if (access === undefined) {
      throw new ImeifedError(Code.PERMISSION_DENIED, "METHOD_NOT_OPEN", `${ctx.method} is not open to any partner on ${options.audience}`);
    }
    requireAccess(caller, ctx.method, access, options.kinds?.[ctx.method]);
    return caller;
  }

  /**
   * A stream outlives the moment it was admitted: when the trust file is
   * reloaded, its caller is admitted again under the new file, and a caller
   * that no longer passes (partner removed, key revoked, scope withdrawn)
   * has the stream ended with the reason, as a new call would be refused.
   */
  function readmitOnReload(ctx: CallContext, token: string, access: Scope | undefined): () => void {
    return options.trust.onReload(() => {
      admit(ctx, token, access, true).then(
        (caller) => ctx.values.set(CALLER, caller),
        (thrown: unknown) => {
          const error = ImeifedError.from(thrown);
          ctx.abort(new ImeifedError(error.code, error.reason, `the trust file was reloaded and this stream's caller no longer passes: ${error.message}`, { cause: error }));
        },
      );
    });
  }

  return async (ctx, next) => {
    const access = options.scopes[ctx.method];
    const token = bearerToken(ctx);
    if (access === "public") {
      if (token !== undefined) ctx.values.set(CALLER, await callerOf(token, ctx.peer));
      return next();
    }
    if (token === undefined) {
      throw unauthenticated("TOKEN_MISSING", `${ctx.method} needs a token: send "authorization: Bearer <token>" (mint one with \`imeifed token\`)`);
    }
    const caller = await admit(ctx, token, access);
    ctx.values.set(CALLER, caller);
    if (ctx.methodKind === "unary") return next();
    const stopReadmitting = readmitOnReload(ctx, token, access);
    const stopExpiring = endAtExpiry(ctx, caller);
    try {
      return await next();
    } finally {
      stopReadmitting();
      if (stopExpiring) clearTimeout(stopExpiring);
    }
  };

  /**
   * A stream of any shape lives no longer than the token it was opened with,
   * with the same clock tolerance a call gets: a short-lived token must not
   * buy an endless feed, nor hold a screening's slot forever. A watcher
   * reopens with a fresh token and resumes after the last sequence or cursor
   * it saw. (CheckDevicesStream also refuses each question past its token's
   * expiry itself; the gateway replaces its streams before that.)
   */
  function endAtExpiry(ctx: CallContext, caller: Caller): NodeJS.Timeout {
    const endsAt = (caller.expiresAt + tolerance) * 1000;
    const timer = setTimeout(
      () => ctx.abort(unauthenticated(STREAM_EXPIRED, `the token this stream was opened with expired at ${new Date(caller.expiresAt * 1000).toISOString()}; reopen it with a fresh token (a watch resumes after the last sequence or cursor it saw)`)),
      Math.max(0, endsAt - now()),
    );
    timer.unref();
    return timer;
  }
}
