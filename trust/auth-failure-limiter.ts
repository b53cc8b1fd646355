/**
 * Failed authentications per client address, and a refusal for an address
 * that fails too often, before another of its tokens is verified.
 *
 * Why: checking a token's ES256 signature is the dearest step of a call, so a flood of
 * well-formed tokens with bad signatures (anyone can make them: the issuer
 * ids and key ids are public) would cost a server most of a core. A partner
 * with a working token almost never fails; an address that failed `maxFailures`
 * times within `windowMs` is refused (RESOURCE_EXHAUSTED, with the wait) for
 * the rest of that window, unverified. A token already verified and remembered
 * costs no signature check and is still admitted, so a legitimate caller
 * sharing the address (a NAT) keeps working. Addresses are client machines,
 * without the port (rpc/peer-address.ts): a client opening a new connection
 * per batch of bad tokens is still one address.
 */
import { LRUCache } from "lru-cache";
import { Code, ImeifedError } from "../errors/index.js";

export interface AuthFailureLimiterOptions {
  /** Failures tolerated per address within a window. */
  maxFailures: number;
  /** The window's length (default one minute). */
  windowMs?: number;
  /** Addresses tracked at once; the least recently failing are forgotten first (default 10,000). */
  maxAddresses?: number;
  /** The clock, in epoch milliseconds (default `Date.now`). */
  now?: () => number;
}

interface Window {
  startedAt: number;
  failures: number;
}

export class AuthFailureLimiter {
  readonly #maxFailures: number;
  readonly #windowMs: number;
  readonly #now: () => number;
  readonly #windows: LRUCache<string, Window>;

  constructor(options: AuthFailureLimiterOptions) {
    this.#maxFailures = options.maxFailures;
    this.#windowMs = options.windowMs ?? 60_000;
    this.#now = options.now ?? Date.now;
    this.#windows = new LRUCache({ max: options.maxAddresses ?? 10_000 });
  }

  /** The window of `address` still running at `now`, if any. */
  #window(address: string, now: number): Window | undefined {
    const window = this.#windows.get(address);
    return window && now - window.startedAt < this.#windowMs ? window : undefined;
  }

  /** Throws RESOURCE_EXHAUSTED `AUTH_FAILURES` when `address` has used up its failures in the current window. */
  check(address: string): void {
    const now = this.#now();
    const window = this.#window(address, now);
    if (!window || window.failures < this.#maxFailures) return;
    const retryAfterMs = window.startedAt + this.#windowMs - now;
    throw new ImeifedError(
      Code.RESOURCE_EXHAUSTED,
      "AUTH_FAILURES",
      `${window.failures} failed authentications from ${address} in the last ${Math.round(this.#windowMs / 1000)} s; new tokens from it are not checked for ${Math.ceil(retryAfterMs / 1000)} s: fix the token (issuer, key, audience, expiry) before retrying`,
      { retryAfterMs },
    );
  }

  /** Records one failed authentication from `address`. */
  fail(address: string): void {
    const now = this.#now();
    const window = this.#window(address, now);
    if (window) window.failures += 1;
    else this.#windows.set(address, { startedAt: now, failures: 1 });
  }
}
