/**
 * Per-principal quotas: a token bucket for calls and one for devices (a
 * screening of a manifest is one call but thousands of devices). A refusal is
 * RESOURCE_EXHAUSTED with the delay after which the same request would pass;
 * the rpc layer sends it as `retry-after-ms` trailing metadata.
 *
 * A registry limits the principal that signed the token (the gateway as a
 * whole); sharing that budget fairly between the gateway's own callers is the
 * gateway's business, with its own limiter keyed by the actor.
 */
import { LRUCache } from "lru-cache";
import { z } from "zod";
import { Code, ImeifedError } from "../errors/index.js";
import { peerAddress, type ServerInterceptor } from "../rpc/index.js";
import { CALLER } from "./principal.js";

const limitSchema = z
  .object({
    callsPerSecond: z.number().positive(),
    devicesPerSecond: z.number().positive(),
    /** How many seconds of unused quota may be saved up for a burst (default 1). */
    burstSeconds: z.number().positive().optional(),
  })
  .strict();

/** Quota configuration as it appears in a server's config file. */
export const quotaConfigSchema = z
  .object({
    /** By principal id. */
    limits: z.record(limitSchema).default({}),
    /** For principals without an entry, and for unauthenticated calls (keyed by peer address). */
    default: limitSchema,
  })
  .strict();

export type QuotaLimit = z.infer<typeof limitSchema>;
export type QuotaConfig = z.input<typeof quotaConfigSchema>;

export interface QuotaOptions {
  /** The clock, in epoch milliseconds (default `Date.now`); tests control it. */
  now?: () => number;
  /** Most buckets kept (default 10 000); idle ones are dropped first, which only forgives a little quota. */
  maxBuckets?: number;
}

/** One token bucket: `rate` tokens per second, at most `capacity` saved. */
class Bucket {
  #tokens: number;
  #updatedMs: number;

  constructor(
    readonly rate: number,
    readonly capacity: number,
    nowMs: number,
  ) {
    this.#tokens = capacity;
    this.#updatedMs = nowMs;
  }

  /** Takes `n` tokens and answers 0, or answers how many ms until `n` would be there (taking nothing). */
  take(n: number, nowMs: number): number {
    const elapsed = Math.max(0, nowMs - this.#updatedMs) / 1000;
    this.#tokens = Math.min(this.capacity, this.#tokens + elapsed * this.rate);
    this.#updatedMs = nowMs;
    if (this.#tokens >= n) {
      this.#tokens -= n;
      return 0;
    }
    // The epsilon keeps float noise (0.998 tokens) from adding a millisecond.
    return Math.max(1, Math.ceil(((n - this.#tokens) / this.rate) * 1000 - 1e-6));
  }
}

/** The buckets of every principal; `takeCall` for the interceptor, `takeDevices` for screening. */
export class QuotaLimiter {
  readonly #config: z.infer<typeof quotaConfigSchema>;
  readonly #now: () => number;
  readonly #buckets: LRUCache<string, { calls: Bucket; devices: Bucket }>;

  constructor(config: QuotaConfig, options: QuotaOptions = {}) {
    const parsed = quotaConfigSchema.safeParse(config);
    if (!parsed.success) {
      throw new ImeifedError(Code.FAILED_PRECONDITION, "QUOTA_CONFIG_INVALID", `quota config is invalid: ${parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
    }
    this.#config = parsed.data;
    this.#now = options.now ?? Date.now;
    this.#buckets = new LRUCache({ max: options.maxBuckets ?? 10_000 });
  }

  /** The limit that applies to a principal. */
  limitFor(principalId: string): QuotaLimit {
    return this.#config.limits[principalId] ?? this.#config.default;
  }

  #bucketsOf(principalId: string): { calls: Bucket; devices: Bucket } {
    let buckets = this.#buckets.get(principalId);
    if (!buckets) {
      const limit = this.limitFor(principalId);
      const burst = limit.burstSeconds ?? 1;
      const now = this.#now();
      buckets = {
        calls: new Bucket(limit.callsPerSecond, Math.max(1, limit.callsPerSecond * burst), now),
        devices: new Bucket(limit.devicesPerSecond, Math.max(1, limit.devicesPerSecond * burst), now),
      };
      this.#buckets.set(principalId, buckets);
    }
    return buckets;
  }

  /** Counts one call; throws RESOURCE_EXHAUSTED `QUOTA_CALLS` with `retryAfterMs` when over the limit. */
  takeCall(principalId: string): void {
    const { calls } = this.#bucketsOf(principalId);
    const waitMs = calls.take(1, this.#now());
    if (waitMs > 0) {
      throw new ImeifedError(Code.RESOURCE_EXHAUSTED, "QUOTA_CALLS", `${principalId} is over its quota of ${calls.rate} calls per second; retry in ${waitMs} ms`, { retryAfterMs: waitMs });
    }
  }

  /**
   * Counts `n` devices (a screening batch); throws RESOURCE_EXHAUSTED
   * `QUOTA_DEVICES` with `retryAfterMs`, or `QUOTA_BATCH_TOO_LARGE` (no retry
   * helps) when one batch is larger than the whole burst allowance.
   */
  takeDevices(principalId: string, n: number): void {
    if (!Number.isFinite(n) || n <= 0) return;
    const { devices } = this.#bucketsOf(principalId);
    if (n > devices.capacity) {
      throw new ImeifedError(
        Code.RESOURCE_EXHAUSTED,
        "QUOTA_BATCH_TOO_LARGE",
        `a batch of ${n} devices exceeds what ${principalId} may screen at once (${Math.floor(devices.capacity)}); send smaller batches`,
      );
    }
    const waitMs = devices.take(n, this.#now());
    if (waitMs > 0) {
      throw new ImeifedError(Code.RESOURCE_EXHAUSTED, "QUOTA_DEVICES", `${principalId} is over its quota of ${devices.rate} devices per second; retry in ${waitMs} ms`, { retryAfterMs: waitMs });
    }
  }
}

/** The quota key of an unauthenticated call: its client machine (rpc/peer-address.ts). */
function peerKey(peer: string): string {
  return `peer:${peerAddress(peer)}`;
}

/**
 * Counts each call against the caller's quota. Put it after the
 * authenticator, which sets the caller; calls without one (public methods)
 * share the default limit per peer address.
 */
export function createQuotaInterceptor(quota: QuotaLimiter | QuotaConfig, options: QuotaOptions = {}): ServerInterceptor {
  const limiter = quota instanceof QuotaLimiter ? quota : new QuotaLimiter(quota, options);
  return async (ctx, next) => {
    const caller = ctx.values.get(CALLER);
    limiter.takeCall(caller ? caller.principal.id : peerKey(ctx.peer));
    return next();
  };
}
