/**
 * Mints the tokens a principal sends: `mintToken` signs one (the CLI uses
 * it), `TokenMinter` keeps one per audience, scopes and actor and reuses it
 * until it nears expiry, so a gateway does not sign a token per call and the
 * registry's verified-token cache keeps hitting.
 */
import { randomUUID } from "node:crypto";
import { importJWK, SignJWT, type JWK } from "jose";
import { LRUCache } from "lru-cache";
import { Code, ImeifedError } from "../errors/index.js";
import type { Actor, Scope } from "./principal.js";
import { algorithmOf, type SigningAlgorithm } from "./keys.js";

type SigningKey = Awaited<ReturnType<typeof importJWK>>;

/** The claims of one token. */
export interface TokenRequest {
  /** The server's principal id, for example `registry-es`. */
  audience: string;
  /** The scopes asked for (space-separated in the token's `scope` claim). */
  scopes: readonly Scope[];
  /** The real requester, when a gateway or registry calls on someone's behalf (the `act` claim). */
  act?: Actor;
}

export interface MintTokenOptions extends TokenRequest {
  issuer: string;
  privateJwk: JWK;
  /** Lifetime in seconds (default 300). */
  ttlSec?: number;
  /** Issue time (default now); tests mint tokens in the past or the future with it. */
  now?: Date;
  /** Not-before, in seconds after the issue time. */
  notBeforeSec?: number;
}

const keyCache = new WeakMap<JWK, Promise<{ key: SigningKey; alg: SigningAlgorithm }>>();

function signingKey(jwk: JWK): Promise<{ key: SigningKey; alg: SigningAlgorithm }> {
  let pending = keyCache.get(jwk);
  if (!pending) {
    const alg = algorithmOf(jwk);
    if (!alg || typeof jwk.d !== "string") {
      return Promise.reject(
        new ImeifedError(Code.FAILED_PRECONDITION, "KEY_INVALID", "the signing key must be a private ES256 (P-256) or EdDSA (Ed25519) JWK, as written by `imeifed keys generate`"),
      );
    }
    pending = importJWK(jwk, alg).then((key) => ({ key, alg }));
    keyCache.set(jwk, pending);
  }
  return pending;
}

/** Signs one token. `sub` is the issuer; the real requester, if any, is in `act`. */
export async function mintToken(options: MintTokenOptions): Promise<string> {
  const { key, alg } = await signingKey(options.privateJwk);
  const iat = Math.floor((options.now ?? new Date()).getTime() / 1000);
  const ttl = options.ttlSec ?? 300;
  const claims: Record<string, unknown> = { scope: [...new Set(options.scopes)].join(" ") };
  if (options.act) claims.act = { sub: options.act.id, kind: options.act.kind, country: options.act.country };
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg, typ: "JWT", ...(options.privateJwk.kid ? { kid: options.privateJwk.kid } : {}) })
    .setIssuer(options.issuer)
    .setSubject(options.issuer)
    .setAudience(options.audience)
    .setIssuedAt(iat)
    .setExpirationTime(iat + ttl)
    .setJti(randomUUID());
  if (options.notBeforeSec !== undefined) jwt.setNotBefore(iat + options.notBeforeSec);
  return jwt.sign(key);
}

export interface TokenMinterOptions {
  issuer: string;
  privateJwk: JWK;
  /** Lifetime of each token (default 300 s: short, since a gateway token speaks for many requesters). */
  ttlSec?: number;
  /** Remint when less than this share of the lifetime is left (default 0.2), so a token never expires in flight. */
  renewAtRemaining?: number;
  /** Distinct tokens kept (default 10 000: audiences × actors). */
  maxTokens?: number;
  /** The clock, in epoch milliseconds (default `Date.now`). */
  now?: () => number;
}

/** Hands out tokens for one principal, reusing each until it nears expiry. */
export class TokenMinter {
  readonly issuer: string;
  readonly #options: TokenMinterOptions;
  readonly #ttlSec: number;
  readonly #now: () => number;
  // Holds the pending mint too, so concurrent callers share one signature.
  readonly #tokens: LRUCache<string, { token: Promise<string>; renewAtMs: number }>;

  constructor(options: TokenMinterOptions) {
    if (!algorithmOf(options.privateJwk) || typeof options.privateJwk.d !== "string") {
      throw new ImeifedError(Code.FAILED_PRECONDITION, "KEY_INVALID", `the key of ${options.issuer} must be a private ES256 or EdDSA JWK`);
    }
    this.issuer = options.issuer;
    this.#options = options;
    this.#ttlSec = options.ttlSec ?? 300;
    this.#now = options.now ?? Date.now;
    this.#tokens = new LRUCache({ max: options.maxTokens ?? 10_000 });
  }

  /** A token for this audience, scopes and actor: the current one while fresh, a new one when it nears expiry. */
  token(request: TokenRequest): Promise<string> {
    const scopes = [...new Set(request.scopes)].sort();
    const act = request.act;
    const cacheKey = JSON.stringify([request.audience, scopes, act ? [act.id, act.kind, act.country] : null]);
    const nowMs = this.#now();
    const held = this.#tokens.get(cacheKey);
    if (held && held.renewAtMs > nowMs) return held.token;
    const renewShare = this.#options.renewAtRemaining ?? 0.2;
    const token = mintToken({
      issuer: this.issuer,
      privateJwk: this.#options.privateJwk,
      audience: request.audience,
      scopes,
      ...(act ? { act } : {}),
      ttlSec: this.#ttlSec,
      now: new Date(nowMs),
    });
    const entry = { token, renewAtMs: nowMs + this.#ttlSec * 1000 * (1 - renewShare) };
    this.#tokens.set(cacheKey, entry);
    // A failed mint must not be handed out again.
    token.catch(() => {
      if (this.#tokens.get(cacheKey) === entry) this.#tokens.delete(cacheKey);
    });
    return token;
  }

  /** A metadata supplier for `createClient`: `{ authorization: "Bearer ..." }` with a reused token. */
  metadata(request: TokenRequest): () => Promise<{ authorization: string }> {
    return async () => ({ authorization: `Bearer ${await this.token(request)}` });
  }
}
