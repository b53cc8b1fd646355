/**
 * Remembers tokens whose signature and claims were verified, until they
 * expire, so a partner reusing its token does not pay a signature check on
 * every call (jose verifies through async WebCrypto: a few thousand per second
 * per core). The key is the whole token string: a token altered in any byte is
 * a different key and goes through full verification.
 */
import { LRUCache } from "lru-cache";
import type { Caller } from "./principal.js";

export interface VerifiedTokenCacheOptions {
  /**
   * Most tokens remembered (default 10 000): the number of partners times the
   * tokens each holds at once is far smaller, and a token is about 0.5 KB, so
   * the bound caps memory near 10 MB even under a flood of distinct valid tokens.
   */
  max?: number;
  /** The clock, in epoch milliseconds (default `Date.now`); tests freeze it. */
  now?: () => number;
}

/** A bounded map from a verified token to its caller, entries dropping out when the token expires. */
export class VerifiedTokenCache {
  readonly #cache: LRUCache<string, Caller>;
  readonly #now: () => number;

  constructor(options: VerifiedTokenCacheOptions = {}) {
    // No ttlAutopurge: it triples memory per entry; expired entries are
    // dropped lazily on read, and `get` checks the expiry itself.
    this.#cache = new LRUCache<string, Caller>({ max: options.max ?? 10_000 });
    this.#now = options.now ?? Date.now;
  }

  /** The caller of a token verified earlier, unless it has expired since (allowing `toleranceSec` of clock skew, as verification does). */
  get(token: string, toleranceSec = 0): Caller | undefined {
    const caller = this.#cache.get(token);
    if (caller === undefined) return undefined;
    if (caller.expiresAt + toleranceSec <= this.#now() / 1000) {
      this.#cache.delete(token);
      return undefined;
    }
    return caller;
  }

  /** Remembers a verified token until its expiry. */
  set(token: string, caller: Caller, toleranceSec = 0): void {
    const ttlMs = (caller.expiresAt + toleranceSec) * 1000 - this.#now();
    if (ttlMs <= 0) return;
    this.#cache.set(token, caller, { ttl: ttlMs });
  }

  /** Forgets everything (the trust store was reloaded, so keys or scopes may have changed). */
  clear(): void {
    this.#cache.clear();
  }

  get size(): number {
    return this.#cache.size;
  }
}
