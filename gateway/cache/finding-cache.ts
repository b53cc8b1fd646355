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
 *
 * Its face: `get` and `put` for one device; `lookUpMany` and `storeMany` for
 * a `KeyColumn` of devices (the lookup and bulk paths). Where a column's
 * devices sit in the LRU and the clean table, and which table column holds a
 * registry, stay inside: callers hold keys and answers.
 */
import { LRUCache } from "lru-cache";
import type { DeviceKey } from "../../device/index.js";
import { DeviceStatus, type Finding } from "../../gen/imeifed/v1/device_pb.js";
import { CleanAnswers } from "./clean-answers.js";
import { HeldDevices } from "./held-devices.js";
import { isListed } from "../lookup/verdict.js";

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

/** Where a column keeps the cache's probe of it: a key only this module holds. */
const PROBE: unique symbol = Symbol("probe");

/**
 * Columns of fewer devices are looked up device by device: for a Lookup's one
 * key, making a probe (typed arrays for its numbers, slots and ages) costs
 * more than the few searches it saves.
 */
const PROBE_FROM = 16;

/**
 * Devices asked about together (a Lookup's keys, a manifest's chunk): what
 * `lookUpMany` and `storeMany` take. What the cache keeps about them between
 * the two (where each device is in its tables) is the cache's own.
 */
export class KeyColumn {
  readonly keys: readonly DeviceKey[];
  #numbers: Float64Array | undefined;
  /** The cache's probe of these devices (see `lookUpMany`): the cache's own. */
  [PROBE]: Probe | undefined;

  /** `numbers`: the same keys as numbers, when the caller already has them. */
  constructor(keys: readonly DeviceKey[], numbers?: Float64Array) {
    this.keys = keys;
    this.#numbers = numbers;
    this[PROBE] = undefined;
  }

  get length(): number {
    return this.keys.length;
  }

  /** The keys as numbers (exact: a 14-digit key is below 2^53), made when first read. */
  get numbers(): Float64Array {
    if (this.#numbers === undefined) {
      const keys = this.keys;
      const numbers = new Float64Array(keys.length);
      for (let i = 0; i < keys.length; i++) numbers[i] = Number(keys[i]);
      this.#numbers = numbers;
    }
    return this.#numbers;
  }
}

/** Where `lookUpMany` reports each device the cache answers. */
export interface CacheHits {
  /** Device `i` of the column is answered by an answer `ageMs` old; `finding`: its PROHIBITED / TRACKED finding, if it is listed. */
  hit(i: number, ageMs: number, finding: Finding | undefined): void;
}

/**
 * One registry's "not listed" answers about a column's devices, gathered as
 * its calls came back, for `storeMany`. Listed answers are not here: they go
 * to `put` as they arrive (they are few).
 */
export interface CleanAnswersFrom {
  readonly country: string;
  /** The cache's `ticket()`, taken before the registry was asked. */
  readonly ticket: number;
  /** Per device of the column: when the registry answered "not listed" (0: it did not). */
  readonly answeredAt: Float64Array;
  /** Per device: the registry's `cache_max_age` for that answer in ms (NaN: it set none). */
  readonly maxAgeMs: Float64Array;
}

/**
 * What the cache found for a column: its LRU entries, and its places in the
 * clean table (`slots`, valid while the table's `version` stays the same).
 */
interface Probe {
  readonly entries: readonly (readonly CachedAnswer[] | undefined)[] | undefined;
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

  /** Nothing held at all: every look-up misses. */
  get #empty(): boolean {
    return this.size === 0 && this.cleanSize === 0;
  }

  /**
   * A ticket taken before asking a registry: `put` and `storeMany` refuse an
   * answer if the device (or the whole registry) changed after the ticket was
   * taken, since the answer may predate the change.
   */
  ticket(): number {
    return this.#tick;
  }

  #generation(country: string): number {
    return this.#generations.get(country) ?? 0;
  }

  /** The held answer of `country` about `key` for `requesterId` that may still be served (unexpired, current generation). */
  get(key: DeviceKey, country: string, requesterId: string, now = Date.now()): CachedAnswer | undefined {
    const found = this.#lookUp(key, country, requesterId, this.#cleanColumnFor(country, requesterId, now), now);
    return typeof found === "number" ? this.#cleanAnswer(country, requesterId, found) : found;
  }

  /**
   * Looks every device of `column` up for `country` and `requesterId`: each
   * answer that may be served goes to `hits`; the positions of the devices
   * the cache cannot answer come back, ascending (the registry must be asked
   * about them). The first look-up of a larger column finds its devices once
   * for every registry (the LRU behind a bit filter, the clean table's
   * slots), so a manifest's chunk costs one search per device, not one per
   * registry; clean-table answers are read as ages, without an object per device.
   */
  lookUpMany(column: KeyColumn, country: string, requesterId: string, now: number, hits: CacheHits): Int32Array {
    const n = column.length;
    // Typed, sized once: in a cold screening every device of a chunk misses at every registry.
    const missed = new Int32Array(n);
    let missCount = 0;
    if (this.#empty) {
      for (let i = 0; i < n; i++) missed[i] = i;
      return missed;
    }
    const cleanColumn = this.#cleanColumnFor(country, requesterId, now);
    if (n < PROBE_FROM) {
      for (let i = 0; i < n; i++) {
        const found = this.#lookUp(column.keys[i]!, country, requesterId, cleanColumn, now);
        if (found === undefined) missed[missCount++] = i;
        else this.#report(hits, i, found, now);
      }
      return missed.subarray(0, missCount);
    }
    const probe = this.#probeOf(column);
    const entries = probe.entries;
    const ages = this.#cleanAges(probe, cleanColumn, now);
    for (let i = 0; i < n; i++) {
      const entry = entries === undefined ? undefined : entries[i];
      if (entry === undefined) {
        // Nearly every device of a manifest: no LRU entry, so only the clean table may answer (an age, no object).
        const age = ages === undefined ? -1 : ages[i]!;
        if (age < 0) missed[missCount++] = i;
        else hits.hit(i, age, undefined);
        continue;
      }
      const held = this.#answerIn(entry, country, requesterId, now);
      const found = newer(held, ages === undefined ? 0 : this.#clean!.answeredAtIn(probe.slots![i]!, cleanColumn, now));
      if (found === undefined) missed[missCount++] = i;
      else this.#report(hits, i, found, now);
    }
    return missed.subarray(0, missCount);
  }

  /** One device's servable answer from the LRU or the clean table (`cleanColumn`: -1 for none), the newer of the two; a number is a clean answer's time. */
  #lookUp(key: DeviceKey, country: string, requesterId: string, cleanColumn: number, now: number): CachedAnswer | number | undefined {
    const held = this.#answerIn(this.#lru?.get(key), country, requesterId, now);
    const clean = this.#clean;
    return clean && cleanColumn >= 0 ? newer(held, clean.answeredAtIn(clean.slotOf(Number(key)), cleanColumn, now)) : held;
  }

  #report(hits: CacheHits, i: number, found: CachedAnswer | number, now: number): void {
    if (typeof found === "number") hits.hit(i, now - found, undefined);
    else hits.hit(i, now - found.answeredAt, found.finding && isListed(found.status) ? found.finding : undefined);
  }

  /**
   * Stores the registries' "not listed" answers about `column`'s devices, one
   * device at a time with every registry's answer together: a device's
   * answers then land in its clean-table slot one after the other, while the
   * slot is in the CPU cache (a million devices' table is far larger than the
   * caches), and at the place its look-up found. An answer is stored only if
   * the device did not change since its registry's ticket. With the clean
   * table off, only devices the LRU held at the look-up get them (a million
   * clean answers in the LRU cost more than they save).
   */
  storeMany(column: KeyColumn, requesterId: string, answers: readonly CleanAnswersFrom[]): void {
    if (answers.length === 0) return;
    const clean = this.#clean;
    if (!clean) {
      const entries = this.#probeOf(column).entries;
      if (entries) for (const from of answers) this.#putInHeldEntries(column, entries, requesterId, from);
      return;
    }
    const probe = column[PROBE];
    const n = answers.length;
    // Per registry: its table column, readied for the max age last seen (a registry's calls nearly always share one).
    const columns = new Int32Array(n).fill(-1);
    const readiedFor = new Float64Array(n);
    const readied = new Uint8Array(n);
    const times = new Float64Array(n);
    const { keys, numbers } = column;
    for (let i = 0; i < keys.length; i++) {
      let any = false;
      for (let c = 0; c < n; c++) {
        const from = answers[c]!;
        const at = from.answeredAt[i]!;
        times[c] = at;
        if (at === 0) continue;
        any = true;
        const maxAgeMs = from.maxAgeMs[i]!;
        if (readied[c] === 0 || !Object.is(maxAgeMs, readiedFor[c])) {
          columns[c] = clean.columnFor(from.country, Number.isNaN(maxAgeMs) ? undefined : maxAgeMs);
          readiedFor[c] = maxAgeMs;
          readied[c] = 1;
        }
        // The device changed while the registry was being asked: the answer may predate the change.
        if (!this.#current(keys[i]!, from.country, DeviceStatus.PERMITTED, from.ticket)) times[c] = 0;
      }
      if (!any) continue;
      const place = probe?.slots !== undefined && probe.version === clean.version ? probe.slots[i] : undefined;
      clean.putRow(numbers[i]!, columns, times, n, place);
    }
  }

  /** With the clean table off: `from`'s clean answers about the devices that had an LRU entry at the look-up keep that entry current. */
  #putInHeldEntries(column: KeyColumn, entries: readonly (readonly CachedAnswer[] | undefined)[], requesterId: string, from: CleanAnswersFrom): void {
    for (let i = 0; i < column.length; i++) {
      const answeredAt = from.answeredAt[i]!;
      if (answeredAt === 0 || entries[i] === undefined) continue;
      const maxAgeMs = from.maxAgeMs[i]!;
      const answer = { status: DeviceStatus.PERMITTED, finding: undefined, cacheMaxAgeMs: Number.isNaN(maxAgeMs) ? undefined : maxAgeMs };
      this.put(column.keys[i]!, from.country, requesterId, answer, from.ticket, answeredAt);
    }
  }

  /** The column's probe, made at its first look-up, its clean-table places found again if the table moved since (growth, reclaiming). */
  #probeOf(column: KeyColumn): Probe {
    let probe = column[PROBE];
    if (!probe) {
      probe = { entries: this.#entriesOf(column), slots: undefined, version: -1 };
      column[PROBE] = probe;
      this.#slotsOf(probe, column.numbers);
    } else if (this.#clean && probe.version !== this.#clean.version) {
      this.#slotsOf(probe, column.numbers);
    }
    return probe;
  }

  /** The column's LRU entries; the array is made at the first device the LRU holds (nearly every device of a manifest has none). */
  #entriesOf(column: KeyColumn): (CachedAnswer[] | undefined)[] | undefined {
    const lru = this.#lru;
    if (!lru || lru.size === 0) return undefined;
    const { keys, numbers } = column;
    let entries: (CachedAnswer[] | undefined)[] | undefined;
    for (let i = 0; i < keys.length; i++) {
      const entry = this.#held.mayHold(numbers[i]!) ? lru.get(keys[i]!) : undefined;
      if (entry !== undefined) (entries ??= new Array<CachedAnswer[] | undefined>(keys.length))[i] = entry;
    }
    return entries;
  }

  #slotsOf(probe: Probe, numbers: Float64Array): void {
    const clean = this.#clean;
    if (!clean || clean.size === 0) {
      probe.slots = undefined;
      probe.version = clean?.version ?? -1;
      return;
    }
    const slots = new Int32Array(numbers.length);
    // Where each device is, or where it would go (`placeOf`): storing its answers then needs no search.
    for (let i = 0; i < slots.length; i++) slots[i] = clean.placeOf(numbers[i]!);
    probe.slots = slots;
    probe.version = clean.version;
  }

  /**
   * The clean-table column to serve `requesterId` from for `country`, or -1:
   * only while that registry is known to answer the requester (see the module comment).
   */
  #cleanColumnFor(country: string, requesterId: string, now: number): number {
    if (!this.#clean) return -1;
    const until = this.#admitted.get(country)?.get(requesterId);
    return until !== undefined && until > now ? this.#clean.columnOf(country) : -1;
  }

  /** For each device of a probe, the age (ms) of its servable clean answer in `column`, or -1; undefined when none can be. */
  #cleanAges(probe: Probe, column: number, now: number): Float64Array | undefined {
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

  /** The answer in a device's LRU `entry` of `country` for `requesterId` that may still be served. */
  #answerIn(entry: readonly CachedAnswer[] | undefined, country: string, requesterId: string, now: number): CachedAnswer | undefined {
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

  /** Stores a registry's answer unless it is not to be kept or the device changed since `ticket`. */
  put(key: DeviceKey, country: string, requesterId: string, answer: RegistryAnswer, ticket: number, answeredAt = Date.now()): void {
    const listed = isListed(answer.status);
    this.answered(country, requesterId, answeredAt, answer.cacheMaxAgeMs);
    if (!listed && this.#clean) {
      if (this.#current(key, country, DeviceStatus.PERMITTED, ticket)) this.#clean.put(Number(key), country, answeredAt, answer.cacheMaxAgeMs);
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
