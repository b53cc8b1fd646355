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
 *
 * "Not listed" answers live apart, in the compact `CleanAnswers` table (bytes
 * per device instead of ~0.9 KB in the LRU), shared by all requesters: a status
 * does not depend on who asks (sharing policies withhold finding fields, never
 * a status). What does depend on the requester is a refusal (`share: none`),
 * which is never cached; so a requester is served clean answers only from a
 * registry that answered that requester itself within the same TTL and has not
 * refused it since (its "admission"). The change streams drop clean answers
 * exactly as they drop the LRU's (`dropDevice`, `dropRegistry`), and the
 * checker serves either only while the registry's stream is live.
 */
import { LRUCache } from "lru-cache";
import { deviceKeyHash, type DeviceKey } from "../device/index.js";
import { DeviceStatus, type Finding } from "../gen/imeifed/v1/device_pb.js";
import { CleanAnswers } from "./clean-answers.js";
import { isListed } from "./verdict.js";

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
  /** Devices the clean-answer table holds (default 2,000,000); 0 keeps clean answers in the LRU, as before the table. */
  cleanMaxEntries?: number;
}

/** The clean-answer table's default bound: a 1M-item manifest and its repeat fit, at 8 + 4 bytes a registry per slot. */
export const DEFAULT_CLEAN_MAX_ENTRIES = 2_000_000;

/**
 * A list of devices looked up once for every registry (the bulk path): their
 * LRU entries, their keys as numbers and their slots in the clean table.
 */
export interface CacheProbe {
  readonly entries: readonly (readonly CachedAnswer[] | undefined)[] | undefined;
  readonly numbers: Float64Array;
  slots: Int32Array | undefined;
  version: number;
}

/** What `put` stores: the registry's answer and how long it may be kept. */
export interface RegistryAnswer {
  status: DeviceStatus;
  finding: Finding | undefined;
  /** The registry's `cache_max_age` in ms; undefined when it said nothing. */
  cacheMaxAgeMs: number | undefined;
}

/** The held-device filter's bits: from 4 KB, growing with the LRU to at most 256 KB. */
const MIN_HELD_BITS = 1 << 15;
const MAX_HELD_BITS = 1 << 21;
/** Bits per held device the filter keeps at least (a wasted look per ~16 misses at most), until its largest size. */
const BITS_PER_HELD = 16;

/**
 * Which devices may have an LRU entry: one bit per hash of a device key, set
 * whenever the LRU stores the device, never cleared one by one (an evicted
 * device's bit stays until the next rebuild: a wasted look, never a missed
 * entry). Why: nearly every device of a manifest has no LRU entry, and an
 * lru-cache `get` that misses cost ~150 ns where a bit costs a few; in a warm
 * screening those misses were a tenth of the gateway's time. Rebuilt from the
 * LRU's keys once the marks since the last rebuild outnumber the bits' share
 * of the held devices, so a long-running gateway's filter stays sparse.
 *
 * Sized to what the LRU holds (at least 16 bits a device, 4 KB to 256 KB), because
 * every screened device looks here: a gateway holding a few thousand listed
 * devices keeps its filter in the CPU's nearest caches, where a fixed 256 KB
 * one was pushed out by the clean-answer table's traffic and cost a memory
 * fetch a device (~200 ms of a million-item cold screening's profile).
 */
class HeldDevices {
  #bits = new Uint32Array(MIN_HELD_BITS / 32);
  #mask = MIN_HELD_BITS - 1;
  #marks = 0;
  /** Marks after which to rebuild: past the devices held at the last rebuild, so rebuilding stays amortised however large the LRU. */
  #rebuildAt = MIN_HELD_BITS / BITS_PER_HELD;

  mayHold(keyNumber: number): boolean {
    const h = deviceKeyHash(keyNumber) & this.#mask;
    return (this.#bits[h >>> 5]! & (1 << (h & 31))) !== 0;
  }

  mark(key: string, held: () => Iterable<string>): void {
    if (++this.#marks > this.#rebuildAt) {
      // Mostly evicted devices' bits by now, or too many devices for the bits: start over from what
      // the LRU holds, in a filter sized to it.
      const keys = [...held()];
      let size = MIN_HELD_BITS;
      while (size < MAX_HELD_BITS && size < keys.length * 2 * BITS_PER_HELD) size *= 2;
      this.#bits = new Uint32Array(size / 32);
      this.#mask = size - 1;
      this.#marks = 0;
      for (const k of keys) this.#set(Number(k));
      this.#rebuildAt = Math.max(2 * this.#marks, size / BITS_PER_HELD);
    }
    this.#set(Number(key));
  }

  clear(): void {
    this.#bits = new Uint32Array(MIN_HELD_BITS / 32);
    this.#mask = MIN_HELD_BITS - 1;
    this.#marks = 0;
    this.#rebuildAt = MIN_HELD_BITS / BITS_PER_HELD;
  }

  #set(keyNumber: number): void {
    const h = deviceKeyHash(keyNumber) & this.#mask;
    this.#bits[h >>> 5]! |= 1 << (h & 31);
    this.#marks++;
  }
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
  /** Clean answers per device and registry, for every requester admitted below. */
  readonly #clean: CleanAnswers | undefined;
  /** Per registry: requester → until when the registry is known to answer them (not refuse them). */
  readonly #admitted = new Map<string, Map<string, number>>();
  readonly #held = new HeldDevices();

  constructor(options: FindingCacheOptions) {
    this.#options = options;
    this.#lru = options.maxEntries > 0 ? new LRUCache<string, CachedAnswer[]>({ max: options.maxEntries }) : undefined;
    this.#recentDrops = new LRUCache({ max: options.recentChanges ?? 100_000 });
    const clean = new CleanAnswers({ maxEntries: options.cleanMaxEntries ?? DEFAULT_CLEAN_MAX_ENTRIES, ttlMs: options.unlistedTtlMs });
    this.#clean = clean.enabled ? clean : undefined;
  }

  /** Devices held in the LRU (listed answers; clean ones too when the clean table is off). */
  get size(): number {
    return this.#lru?.size ?? 0;
  }

  /** Devices held in the clean-answer table. */
  get cleanSize(): number {
    return this.#clean?.size ?? 0;
  }

  /** Bytes held by the clean-answer table. */
  get cleanBytes(): number {
    return this.#clean?.bytes ?? 0;
  }

  /** Whether clean answers go to the compact table (the bulk path then stores every clean answer). */
  get cleanEnabled(): boolean {
    return this.#clean !== undefined;
  }

  /** Nothing held at all: a caller may skip looking. */
  get empty(): boolean {
    return this.size === 0 && this.cleanSize === 0;
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
    const held = this.lookup(key, country, requesterId, now);
    return typeof held === "number" ? this.#cleanAnswer(country, requesterId, held) : held;
  }

  /** As `get`, but a clean-table answer comes back as its answer time only (no object per clean device). */
  lookup(key: DeviceKey, country: string, requesterId: string, now = Date.now()): CachedAnswer | number | undefined {
    const held = this.answerIn(this.#lru?.get(key), country, requesterId, now);
    if (!this.#clean) return held;
    const column = this.cleanColumnFor(country, requesterId, now);
    return newer(held, column < 0 ? 0 : this.#clean.answeredAtIn(this.#clean.slotOf(Number(key)), column, now));
  }

  /** Whether the LRU may hold the device (`Number(key)`): false means it surely does not (the bulk probe's filter). */
  mayHold(keyNumber: number): boolean {
    return this.#held.mayHold(keyNumber);
  }

  /** Looks `keys` up once for every registry (the bulk path). `numbers`: the keys as numbers, when the caller has them. */
  probe(keys: readonly DeviceKey[], numbers?: Float64Array): CacheProbe {
    if (!numbers) {
      numbers = new Float64Array(keys.length);
      for (let i = 0; i < keys.length; i++) numbers[i] = Number(keys[i]);
    }
    // Made at the first device the LRU holds: nearly every device of a manifest has no entry.
    let entries: (CachedAnswer[] | undefined)[] | undefined;
    const lru = this.#lru;
    if (lru && lru.size > 0) {
      for (let i = 0; i < keys.length; i++) {
        const entry = this.#held.mayHold(numbers[i]!) ? lru.get(keys[i]!) : undefined;
        if (entry !== undefined) (entries ??= new Array<CachedAnswer[] | undefined>(keys.length))[i] = entry;
      }
    }
    const probe: CacheProbe = { entries, numbers, slots: undefined, version: -1 };
    this.#slotsOf(probe);
    return probe;
  }

  #slotsOf(probe: CacheProbe): void {
    const clean = this.#clean;
    if (!clean || clean.size === 0) {
      probe.slots = undefined;
      probe.version = clean?.version ?? -1;
      return;
    }
    const slots = new Int32Array(probe.numbers.length);
    // Where each device is, or where it would go (`placeOf`): storing its answers then needs no search.
    for (let i = 0; i < slots.length; i++) slots[i] = clean.placeOf(probe.numbers[i]!);
    probe.slots = slots;
    probe.version = clean.version;
  }

  /**
   * The clean-table column to serve `requesterId` from for `country`, or -1:
   * only while that registry is known to answer the requester (see the module comment).
   */
  cleanColumnFor(country: string, requesterId: string, now = Date.now()): number {
    if (!this.#clean) return -1;
    const until = this.#admitted.get(country)?.get(requesterId);
    return until !== undefined && until > now ? this.#clean.columnOf(country) : -1;
  }

  /** Device `i` of a probe: the servable answer of `country` for `requesterId` (a number: a clean answer's time). `column` from `cleanColumnFor`. */
  answerAt(probe: CacheProbe, i: number, country: string, requesterId: string, column: number, now: number): CachedAnswer | number | undefined {
    const held = this.answerIn(probe.entries?.[i], country, requesterId, now);
    const clean = this.#clean;
    if (!clean || column < 0) return held;
    if (probe.version !== clean.version) this.#slotsOf(probe);
    return newer(held, probe.slots ? clean.answeredAtIn(probe.slots[i]!, column, now) : 0);
  }

  /** Re-finds a probe's clean-table slots if the table moved since (growth, reclaiming). */
  refresh(probe: CacheProbe): void {
    if (this.#clean && probe.version !== this.#clean.version) this.#slotsOf(probe);
  }

  /**
   * For each device of a probe, the age (ms) of its servable clean answer in
   * `column` (from `cleanColumnFor`), or -1; undefined when none can be.
   * Call `refresh` first. Devices with an LRU entry are answered by `answerAt`.
   */
  cleanAges(probe: CacheProbe, column: number, now: number): Float64Array | undefined {
    const slots = probe.slots;
    if (slots === undefined || column < 0) return undefined;
    const ages = new Float64Array(slots.length);
    this.#clean!.agesIn(slots, column, now, ages);
    return ages;
  }

  #cleanAnswer(country: string, requesterId: string, answeredAt: number): CachedAnswer {
    const ttl = this.#clean?.ttlOf(country) ?? this.#options.unlistedTtlMs;
    return { country, requesterId, status: DeviceStatus.PERMITTED, finding: undefined, answeredAt, expiresAt: answeredAt + ttl, generation: this.#generation(country) };
  }

  /** `country` answered `requesterId` (did not refuse them) at `answeredAt`: clean answers from it may be served to them for the clean TTL. */
  answered(country: string, requesterId: string, answeredAt: number, cacheMaxAgeMs: number | undefined): void {
    if (!this.#clean) return;
    const ttl = Math.min(this.#options.unlistedTtlMs, cacheMaxAgeMs ?? Number.POSITIVE_INFINITY);
    if (!(ttl > 0)) return;
    let byRequester = this.#admitted.get(country);
    if (!byRequester) this.#admitted.set(country, (byRequester = new Map()));
    const until = answeredAt + ttl;
    if (until > (byRequester.get(requesterId) ?? 0)) byRequester.set(requesterId, until);
  }

  /** `country` refused `requesterId` (PERMISSION_DENIED): no clean answer from it is served to them until it answers them again. */
  refused(country: string, requesterId: string): void {
    this.#admitted.get(country)?.delete(requesterId);
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

  /** Whether an answer asked at `ticket` may still be stored: neither the registry nor the device changed since, unless to what it says. */
  #current(key: DeviceKey, country: string, status: DeviceStatus, ticket: number): boolean {
    if (this.#tick === ticket) return true; // nothing changed anywhere since the ticket
    if ((this.#generationTicks.get(country) ?? -1) > ticket) return false;
    const change = this.#recentDrops.get(`${country}|${key}`);
    // The device changed while the registry was being asked: the answer may predate the change, unless it says what the change says.
    return !(change && change.tick > ticket && change.status !== status);
  }

  /**
   * Stores a clean ("not listed") answer in the clean table (the bulk path:
   * no answer object per device; `keyNumber` is `Number(key)`). The caller
   * reports the call itself with `answered`.
   */
  putClean(key: DeviceKey, keyNumber: number, country: string, cacheMaxAgeMs: number | undefined, ticket: number, answeredAt: number): void {
    if (!this.#clean || !this.#current(key, country, DeviceStatus.PERMITTED, ticket)) return;
    this.#clean.put(keyNumber, country, answeredAt, cacheMaxAgeMs);
  }

  /** The clean-table column for `country`'s answers bounded by `cacheMaxAgeMs`, or -1 (no table, or such answers are not kept): for `putCleanRow`. */
  cleanColumnForStoring(country: string, cacheMaxAgeMs: number | undefined): number {
    return this.#clean ? this.#clean.columnFor(country, cacheMaxAgeMs) : -1;
  }

  /**
   * Several registries' clean answers about one device at once (the bulk
   * path: one slot search for all of them). Registry `c` is `countries[c]`,
   * asked at `tickets[c]`, answered at `times[c]` (0: no answer), stored in
   * `columns[c]` (from `cleanColumnForStoring`). `times` is the caller's scratch: an
   * answer the device changed since is zeroed there, as `putClean` refuses it.
   * `probe`, `i`: the device's place found by `probe`, used while still valid.
   */
  putCleanRow(key: DeviceKey, keyNumber: number, countries: readonly string[], tickets: readonly number[], columns: Int32Array, times: Float64Array, probe?: CacheProbe, i = 0): void {
    const clean = this.#clean;
    if (!clean) return;
    for (let c = 0; c < countries.length; c++) {
      if (times[c] !== 0 && !this.#current(key, countries[c]!, DeviceStatus.PERMITTED, tickets[c]!)) times[c] = 0;
    }
    const place = probe?.slots !== undefined && probe.version === clean.version ? probe.slots[i] : undefined;
    clean.putRow(keyNumber, columns, times, countries.length, place);
  }

  /** Stores a registry's answer unless it is not to be kept or the device changed since `ticket`. */
  put(key: DeviceKey, country: string, requesterId: string, answer: RegistryAnswer, ticket: number, answeredAt = Date.now()): void {
    const listed = isListed(answer.status);
    this.answered(country, requesterId, answeredAt, answer.cacheMaxAgeMs);
    if (!listed && this.#clean) {
      this.putClean(key, Number(key), country, answer.cacheMaxAgeMs, ticket, answeredAt);
      return;
    }
    // A listed answer replaces the device's clean answer from the same registry.
    if (listed) this.#clean?.drop(Number(key), country);
    if (!this.#lru) return;
    const ttl = Math.min(listed ? this.#options.listedTtlMs : this.#options.unlistedTtlMs, answer.cacheMaxAgeMs ?? Number.POSITIVE_INFINITY);
    if (!(ttl > 0)) return;
    if (!this.#current(key, country, answer.status, ticket)) return;
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
      this.#held.mark(key, () => this.#lru!.keys());
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
    this.#clean?.drop(Number(key), country);
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
    this.#clean?.dropCountry(country);
    // The registry may have restarted with another sharing policy: requesters must be answered again.
    this.#admitted.delete(country);
  }

  /** Empties the cache. */
  clear(): void {
    this.#lru?.clear();
    this.#held.clear();
    this.#recentDrops.clear();
    this.#clean?.clear();
    this.#admitted.clear();
  }
}

/** The newer of a held LRU answer and a clean-table answer time (0: none); on a tie the LRU's, which may be listed. */
function newer(held: CachedAnswer | undefined, cleanAt: number): CachedAnswer | number | undefined {
  if (cleanAt > 0 && (!held || cleanAt > held.answeredAt)) return cleanAt;
  return held;
}
