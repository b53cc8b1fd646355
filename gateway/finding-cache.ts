/**
 * The gateway's cache of registry answers, keyed by the 14-digit device key
 * (so IMEI and IMEISV share entries). Each device holds one answer per
 * registry and requester: registries apply their sharing policy to the real
 * requester, so one requester's view is never served to another.
 *
 * Listed (PROHIBITED / TRACKED) answers are kept long, since the registry's
 * change stream keeps them true; "not listed" answers only briefly. Both are
 * bounded by the registry's own `cache_max_age` (zero: not kept at all).
 * Expiry is checked on read (no lru-cache ttlAutopurge: it triples memory per
 * entry and slows writes).
 */
import { LRUCache } from "lru-cache";
import type { DeviceKey } from "../device/index.js";
import { DeviceStatus, type Finding } from "../gen/imeifed/v1/device_pb.js";

/** One registry's answer about one device, for one requester. */
export interface CachedAnswer {
  readonly country: string;
  readonly requesterId: string;
  /** PROHIBITED or TRACKED (with `finding`), or PERMITTED. */
  readonly status: DeviceStatus;
  readonly finding: Finding | undefined;
  /** When the registry gave this answer (epoch ms). */
  readonly answeredAt: number;
  /** After this the answer is not served, not even as stale. */
  readonly expiresAt: number;
  /** The registry's cache generation when it was stored; a newer generation voids it. */
  readonly generation: number;
}

export interface FindingCacheOptions {
  /** Devices held; 0 disables the cache. */
  maxEntries: number;
  listedTtlMs: number;
  unlistedTtlMs: number;
  /** Remembered recent changes, so an answer asked before a change cannot be stored after it (default 100 000). */
  recentChanges?: number;
}

/** What `put` stores: the registry's answer and how long it may be kept. */
export interface RegistryAnswer {
  status: DeviceStatus;
  finding: Finding | undefined;
  /** The registry's `cache_max_age` in ms; undefined when it said nothing. */
  cacheMaxAgeMs: number | undefined;
}

function isListed(status: DeviceStatus): boolean {
  return status === DeviceStatus.PROHIBITED || status === DeviceStatus.TRACKED;
}

/** Registry answers per device, registry and requester, with the drops the change streams ask for. */
export class FindingCache {
  readonly #lru: LRUCache<string, CachedAnswer[]> | undefined;
  readonly #options: FindingCacheOptions;
  /** Per registry: bumped to void everything held from it. */
  readonly #generations = new Map<string, number>();
  /** Per registry: the tick of its last generation bump. */
  readonly #generationTicks = new Map<string, number>();
  /** `country|key` → tick of the last change applied, and the device's status after it. */
  readonly #recentDrops: LRUCache<string, { tick: number; status: DeviceStatus | undefined }>;
  #tick = 0;

  constructor(options: FindingCacheOptions) {
    this.#options = options;
    this.#lru = options.maxEntries > 0 ? new LRUCache<string, CachedAnswer[]>({ max: options.maxEntries }) : undefined;
    this.#recentDrops = new LRUCache({ max: options.recentChanges ?? 100_000 });
  }

  /** Devices held. */
  get size(): number {
    return this.#lru?.size ?? 0;
  }

  /**
   * A ticket taken before asking a registry: `put` refuses an answer if the
   * device (or the whole registry) changed after the ticket was taken, since
   * the answer may predate the change.
   */
  ticket(): number {
    return this.#tick;
  }

  #generation(country: string): number {
    return this.#generations.get(country) ?? 0;
  }

  /** The held answer of `country` about `key` for `requesterId` that may still be served (unexpired, current generation). */
  get(key: DeviceKey, country: string, requesterId: string, now = Date.now()): CachedAnswer | undefined {
    return this.answerIn(this.#lru?.get(key), country, requesterId, now);
  }

  /** Everything held for a device (all registries and requesters): one lookup for a caller about to ask after several registries (the bulk path). */
  entryOf(key: DeviceKey): readonly CachedAnswer[] | undefined {
    return this.#lru?.get(key);
  }

  /** The answer in a device's `entry` (from `entryOf`) of `country` for `requesterId` that may still be served. */
  answerIn(entry: readonly CachedAnswer[] | undefined, country: string, requesterId: string, now = Date.now()): CachedAnswer | undefined {
    if (!entry) return undefined;
    for (const part of entry) {
      if (part.country === country && part.requesterId === requesterId) {
        return part.generation === this.#generation(country) && part.expiresAt > now ? part : undefined;
      }
    }
    return undefined;
  }

  /** Stores a registry's answer unless it is not to be kept or the device changed since `ticket`. */
  put(key: DeviceKey, country: string, requesterId: string, answer: RegistryAnswer, ticket: number, answeredAt = Date.now()): void {
    if (!this.#lru) return;
    const listed = isListed(answer.status);
    const ttl = Math.min(listed ? this.#options.listedTtlMs : this.#options.unlistedTtlMs, answer.cacheMaxAgeMs ?? Number.POSITIVE_INFINITY);
    if (!(ttl > 0)) return;
    if ((this.#generationTicks.get(country) ?? -1) > ticket) return;
    const change = this.#recentDrops.get(`${country}|${key}`);
    // The device changed while the registry was being asked: the answer may predate the change, unless it says what the change says.
    if (change && change.tick > ticket && change.status !== answer.status) return;
    const part: CachedAnswer = {
      country,
      requesterId,
      status: answer.status,
      finding: listed ? answer.finding : undefined,
      answeredAt,
      expiresAt: answeredAt + ttl,
      generation: this.#generation(country),
    };
    const parts = this.#lru.get(key);
    if (!parts) {
      this.#lru.set(key, [part]);
      return;
    }
    const i = parts.findIndex((p) => p.country === country && p.requesterId === requesterId);
    if (i >= 0) parts[i] = part;
    else parts.push(part);
  }

  /**
   * A change for `key` arrived from `country`'s change stream: forget every
   * requester's answer from it. `status` is the device's status after the
   * change (unknown: undefined), so an answer asked during the change is kept
   * only when it agrees with it.
   */
  dropDevice(key: string, country: string, status?: DeviceStatus): void {
    this.#tick += 1;
    this.#recentDrops.set(`${country}|${key}`, { tick: this.#tick, status });
    const parts = this.#lru?.peek(key);
    if (!parts) return;
    const kept = parts.filter((p) => p.country !== country);
    if (kept.length === parts.length) return;
    if (kept.length === 0) this.#lru!.delete(key);
    else this.#lru!.set(key, kept, { noUpdateTTL: true });
  }

  /** `country`'s change stream could not resume (a new epoch or a gap): everything held from it is void. */
  dropRegistry(country: string): void {
    this.#tick += 1;
    this.#generationTicks.set(country, this.#tick);
    this.#generations.set(country, this.#generation(country) + 1);
  }

  /** Empties the cache. */
  clear(): void {
    this.#lru?.clear();
    this.#recentDrops.clear();
  }
}
