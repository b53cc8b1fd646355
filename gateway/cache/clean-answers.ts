/**
 * The gateway's compact table of "not listed" answers: for each device key,
 * when each registry last answered that the device is not listed there.
 *
 * Why it exists: a clean answer in the LRU costs close to a kilobyte per device
 * (objects, strings, arrays), so screening stopped caching them and a repeated manifest
 * asked the registries again about every clean device. Here a device costs one
 * Float64 key (the 14-digit key as a number: exact below 2^53) plus one Uint32
 * answer time per registry, side by side in one slot of an open-addressing
 * table at most 4/5 full: 8 + 4 × registries bytes, rounded up to 8 (32 bytes
 * with five registries). Side by side because at a million devices the table
 * is far larger than the CPU caches: a device's key and all its registries'
 * answers then cost one memory fetch, not one per array (with separate arrays
 * a put was nearly all waiting on memory).
 *
 * A run of 16 consecutive keys shares one home and takes consecutive slots
 * from it (`#home`), because manifests come in serial runs (a carton
 * of new phones has consecutive serials): a run's devices then cost one
 * memory page and a few cache lines rather than 16 of each. Keys that are
 * not neighbours spread as before, so random keys cost what a plain hash
 * costs (the figures are in the commit that made it, and bench/RESULTS.md).
 *
 * It holds no requester and no finding: a "not listed" status is the same for
 * every requester (sharing policies withhold finding fields or refuse a
 * requester outright, never change a status); `FindingCache` decides which
 * requesters may be served from it. Expiry is checked on read, from the
 * answer time and the registry's `cache_max_age`; expired slots are reclaimed
 * when the table is full, and when it is still full the older half goes.
 */
import { deviceKeyHash } from "../../device/index.js";

/** A slot holds its key plus one, so a fresh (zeroed) buffer is an empty table with nothing to fill. */
const EMPTY = 0;
const MIN_CAPACITY = 1024;
/** Consecutive keys that share a home and sit side by side (a 16-key run: 512 bytes of slots with five registries). */
const RUN = 16;
/**
 * How much the table grows when it must: by 4, so a table that fills up to a
 * million devices re-places its keys a few times rather than ten (each move is
 * a cache miss; doubling made growth the table's largest cost in a cold screening).
 */
const GROWTH = 4;
const MAX_LOAD = 0.8;
/** Answer times are kept as ms after `#base` in a Uint32 (0: none); past ~49 days the table starts over. */
const STAMP_LIMIT = 0xffff_fff0;
/** How far before the first answer the time base is set, so slightly older answers still fit. */
const BASE_MARGIN_MS = 86_400_000;

export interface CleanAnswersOptions {
  /** Device keys held at most (0: the table is off). */
  maxEntries: number;
  /** The longest a clean answer is served (the cache's `unlistedTtlMs`); the registry's `cache_max_age` may shorten it. */
  ttlMs: number;
}

/** Clean answers per device and registry, in one typed-array table. */
export class CleanAnswers {
  readonly #maxEntries: number;
  readonly #ttlMs: number;
  readonly #maxCapacity: number;
  /** Slot s: key + 1 at `#keys[s * #stride / 2]` (0: empty), registry c's stamp at `#words[s * #stride + 2 + c]` (same buffer). */
  #keys: Float64Array;
  #words: Uint32Array;
  /** Registry columns a slot has room for (even, so slots stay 8-byte aligned). */
  #width = 0;
  /** Uint32 words a slot takes: 2 for the key, then `#width` stamps. */
  #stride = 2;
  readonly #columns = new Map<string, number>();
  /** Per column: how long its answers may be served (min of the TTL and the registry's latest cache_max_age). */
  readonly #ttlOf: number[] = [];
  #capacity: number;
  #size = 0;
  #base = Number.NaN;
  #version = 0;

  constructor(options: CleanAnswersOptions) {
    this.#maxEntries = Math.max(0, options.maxEntries);
    this.#ttlMs = options.ttlMs;
    this.#maxCapacity = Math.max(MIN_CAPACITY, Math.ceil(this.#maxEntries / MAX_LOAD) + 1);
    this.#capacity = this.#initialCapacity();
    [this.#keys, this.#words] = this.#allocate(this.#capacity, this.#stride);
  }

  #initialCapacity(): number {
    return this.#maxEntries > 0 ? Math.min(MIN_CAPACITY, this.#maxCapacity) : 0;
  }

  #allocate(capacity: number, stride: number): [Float64Array, Uint32Array] {
    const buffer = new ArrayBuffer(capacity * stride * 4);
    return [new Float64Array(buffer), new Uint32Array(buffer)];
  }

  /** Whether the table may hold anything. */
  get enabled(): boolean {
    return this.#maxEntries > 0 && this.#ttlMs > 0;
  }

  /** Device keys held (expired ones included until reclaimed). */
  get size(): number {
    return this.#size;
  }

  /** Bytes held by the table (tests and the benchmark). */
  get bytes(): number {
    return this.#keys.byteLength;
  }

  /** Bumped whenever slots move (growth, reclaiming, clearing): slots found before are void. */
  get version(): number {
    return this.#version;
  }

  /** The column of a registry, or -1 when nothing was ever stored for it. */
  columnOf(country: string): number {
    return this.#columns.get(country) ?? -1;
  }

  /** The slot holding `key`, or -1. */
  slotOf(key: number): number {
    const found = this.placeOf(key);
    return found < 0 ? -1 : found;
  }

  /**
   * The slot holding `key` (>= 0); when no slot does, `-2 - s` where `s` is
   * the empty slot a store of `key` would take now (a vacancy: every reader
   * takes a negative slot for "not held"). Valid while `version` stays the
   * same: `putRow` given it goes on from the vacancy instead of searching
   * again from the key's home, so a cold device costs one search, not three
   * (the probe's, the store's look-up, and the insert's).
   */
  placeOf(key: number): number {
    const keys = this.#keys;
    const capacity = this.#capacity;
    if (capacity === 0) return -1;
    const half = this.#stride / 2;
    const stored = key + 1;
    let slot = this.#home(key);
    for (;;) {
      const current = keys[slot * half]!;
      if (current === stored) return slot;
      if (current === EMPTY) return -2 - slot;
      slot = slot + 1 === capacity ? 0 : slot + 1;
    }
  }

  /** When registry `column` answered "not listed" about the device in `slot`, if that answer may still be served at `now`; otherwise 0. */
  answeredAtIn(slot: number, column: number, now: number): number {
    if (slot < 0 || column < 0) return 0;
    const stamp = this.#words[slot * this.#stride + 2 + column]!;
    if (stamp === 0) return 0;
    const answeredAt = this.#base + stamp - 1;
    return answeredAt + this.#ttlOf[column]! > now ? answeredAt : 0;
  }

  /** `answeredAtIn` for many slots at once (the bulk path's loop): `out[i]` is the age (ms) of `slots[i]`'s answer at `now`, or -1. */
  agesIn(slots: Int32Array, column: number, now: number, out: Float64Array): void {
    if (column < 0 || column >= this.#columns.size) {
      out.fill(-1);
      return;
    }
    const words = this.#words;
    const stride = this.#stride;
    const ttl = this.#ttlOf[column]!;
    // age = now - (base + stamp - 1) = origin - stamp
    const origin = now - this.#base + 1;
    for (let i = 0; i < slots.length; i++) {
      const slot = slots[i]!;
      const stamp = slot < 0 ? 0 : words[slot * stride + 2 + column]!;
      if (stamp === 0) {
        out[i] = -1;
        continue;
      }
      const age = origin - stamp;
      // Stored after `now` was taken (another chunk's answer): as good as new.
      out[i] = age < 0 ? 0 : age < ttl ? age : -1;
    }
  }

  /** When `country` answered "not listed" about `key`, if still servable at `now`; otherwise 0. */
  answeredAt(key: number, country: string, now: number): number {
    return this.answeredAtIn(this.slotOf(key), this.columnOf(country), now);
  }

  /** How long `country`'s clean answers are served. */
  ttlOf(country: string): number {
    const column = this.columnOf(country);
    return column < 0 ? this.#ttlMs : this.#ttlOf[column]!;
  }

  /**
   * Records that `country` answered "not listed" about `key` at `answeredAt`;
   * `cacheMaxAgeMs` is the registry's bound on keeping it (undefined: none).
   */
  put(key: number, country: string, answeredAt: number, cacheMaxAgeMs: number | undefined): void {
    if (!this.enabled) return;
    const ttl = Math.min(this.#ttlMs, cacheMaxAgeMs ?? Number.POSITIVE_INFINITY);
    if (!(ttl > 0)) return;
    if (!this.#ready(answeredAt)) return;
    const column = this.#column(country, ttl);
    this.#stamp(this.#slotToStore(key, answeredAt, this.placeOf(key)), column, answeredAt);
  }

  /**
   * The column for `country`'s answers bounded by `cacheMaxAgeMs` (undefined:
   * none), readied as `put` readies it for each answer; -1 when such answers
   * are not kept. For `putRow`.
   */
  columnFor(country: string, cacheMaxAgeMs: number | undefined): number {
    if (!this.enabled) return -1;
    const ttl = Math.min(this.#ttlMs, cacheMaxAgeMs ?? Number.POSITIVE_INFINITY);
    if (!(ttl > 0)) return -1;
    return this.#column(country, ttl);
  }

  /**
   * Several registries' answers about one device, stored with one slot
   * search: for `c < count`, the answer time `times[c]` (0: none) in column
   * `columns[c]` (from `columnFor`; -1: not kept). The same as a `put` per
   * answer; cheaper when a device's answers arrive together (the bulk path).
   * `place`: what `placeOf(key)` said at the current `version`, if the caller
   * has it (its probe), so the slot is not searched for again.
   */
  putRow(key: number, columns: Int32Array, times: Float64Array, count: number, place?: number): void {
    let slot = -1;
    let words = this.#words;
    let stride = this.#stride;
    for (let c = 0; c < count; c++) {
      const column = columns[c]!;
      const answeredAt = times[c]!;
      if (column < 0 || answeredAt === 0) continue;
      let stamp = answeredAt - this.#base + 1;
      if (!(stamp >= 1 && stamp < STAMP_LIMIT)) {
        // Rare: the first answer ever, one older than the base, or past the stamps' range.
        const version = this.#version;
        if (!this.#ready(answeredAt)) continue;
        if (version !== this.#version) slot = place = -1; // the table started over: slots moved
        stamp = answeredAt - this.#base + 1;
      }
      if (slot < 0) {
        slot = this.#slotToStore(key, answeredAt, place ?? this.placeOf(key));
        // Inserting may have grown the table.
        words = this.#words;
        stride = this.#stride;
      }
      const at = slot * stride + 2 + column;
      if (stamp > words[at]!) words[at] = stamp;
    }
  }

  /** Sets the time base on the first answer and starts over past the stamps' range; false for an answer older than the base. */
  #ready(answeredAt: number): boolean {
    if (Number.isNaN(this.#base)) this.#base = answeredAt - BASE_MARGIN_MS;
    if (answeredAt - this.#base + 1 >= STAMP_LIMIT) {
      // ~49 days after the base: start over rather than widen every stamp.
      this.clear();
      this.#base = answeredAt - BASE_MARGIN_MS;
    }
    return answeredAt >= this.#base; // older than anything the table can express: not worth keeping
  }

  #stamp(slot: number, column: number, answeredAt: number): void {
    const stamp = answeredAt - this.#base + 1;
    const at = slot * this.#stride + 2 + column;
    if (stamp > this.#words[at]!) this.#words[at] = stamp;
  }

  /** A change arrived for `key` from `country`: its clean answer from there is void. */
  drop(key: number, country: string): void {
    const column = this.columnOf(country);
    const slot = this.slotOf(key);
    if (column >= 0 && slot >= 0) this.#words[slot * this.#stride + 2 + column] = 0;
  }

  /** `country` can no longer be trusted (a new epoch or a gap in its change stream): every clean answer from it is void. */
  dropCountry(country: string): void {
    const column = this.columnOf(country);
    if (column < 0) return;
    const words = this.#words;
    const stride = this.#stride;
    for (let at = 2 + column; at < words.length; at += stride) words[at] = 0;
  }

  /** Empties the table (keeps its registries' columns). */
  clear(): void {
    this.#capacity = this.#initialCapacity();
    [this.#keys, this.#words] = this.#allocate(this.#capacity, this.#stride);
    this.#size = 0;
    this.#version++;
  }

  #home(key: number): number {
    // The key's run, multiply-shifted onto the runs that fit the capacity (any capacity, not only
    // powers of two, so the table can be sized to its bound), then the key's place in its run.
    const run = Math.floor(key / RUN);
    return Math.floor((deviceKeyHash(run) * Math.floor(this.#capacity / RUN)) / 4294967296) * RUN + (key - run * RUN);
  }

  #column(country: string, ttl: number): number {
    let column = this.#columns.get(country);
    if (column === undefined) {
      column = this.#columns.size;
      if (column >= this.#width) this.#rebuild(this.#capacity, this.#width + 2);
      this.#columns.set(country, column);
      this.#ttlOf.push(ttl);
      return column;
    }
    if (ttl > this.#ttlOf[column]!) {
      // The registry now allows longer: answers stored under its shorter bound must not profit from it.
      const words = this.#words;
      for (let at = 2 + column; at < words.length; at += this.#stride) words[at] = 0;
    }
    this.#ttlOf[column] = ttl;
    return column;
  }

  /**
   * The next capacity: 4 times the current one, or the table's full size once
   * that would be a quarter of it (a table filling towards its bound then
   * re-places its keys one time less, the costliest time: the most keys).
   */
  #grownCapacity(): number {
    const next = this.#capacity * GROWTH;
    return next * 4 >= this.#maxCapacity ? this.#maxCapacity : next;
  }

  /**
   * The slot of `key`, added with no answers yet when not held. `place` is
   * `placeOf(key)` at the current version (-1: not known): a held slot is
   * taken as it is; from a vacancy the search goes on, since other keys may
   * have been stored there since (slots fill, but only a version change
   * empties or moves them), and so may `key` itself (found on the way).
   */
  #slotToStore(key: number, now: number, place: number): number {
    if (place >= 0) return place;
    const keys = this.#keys;
    const capacity = this.#capacity;
    const half = this.#stride / 2;
    const stored = key + 1;
    let slot = place <= -2 ? -2 - place : this.#home(key);
    for (;;) {
      const current = keys[slot * half]!;
      if (current === stored) return slot;
      if (current === EMPTY) break;
      slot = slot + 1 === capacity ? 0 : slot + 1;
    }
    // Not held: make room first if needed (slots then move, so the search starts over from the home).
    if (this.#size >= this.#maxEntries) {
      this.#makeRoom(now);
      return this.#slotToStore(key, now, -1);
    }
    if (this.#size + 1 > capacity * MAX_LOAD && capacity < this.#maxCapacity) {
      this.#rebuild(this.#grownCapacity(), this.#width);
      return this.#slotToStore(key, now, -1);
    }
    keys[slot * half] = stored;
    this.#size++;
    return slot;
  }

  /**
   * Full: drop expired devices; if still more than half full, keep the newer
   * half. A long-running gateway does this every time half its table has
   * filled again (a million-item screening into a full table: about twice), so
   * it is kept cheap: the cutoff is selected, not sorted for, and the kept
   * devices are re-placed in the table's own memory (a fresh table is
   * thousands of pages the kernel must zero first; the compact copy of the
   * kept half is a fraction of that).
   */
  #makeRoom(now: number): void {
    const capacity = this.#capacity;
    const half = this.#stride / 2;
    const columns = this.#columns.size;
    // Per slot, its newest answer still servable at `now` (any registry; 0: none).
    const newest = new Float64Array(capacity);
    let live = 0;
    for (let slot = 0; slot < capacity; slot++) {
      if (this.#keys[slot * half] === EMPTY) continue;
      let at = 0;
      for (let c = 0; c < columns; c++) at = Math.max(at, this.answeredAtIn(slot, c, now));
      newest[slot] = at;
      if (at > 0) live++;
    }
    let cutoff = 0;
    const keep = Math.floor(this.#maxEntries / 2);
    if (live > keep) {
      if (keep === 0) {
        cutoff = Number.POSITIVE_INFINITY;
      } else {
        const times = new Float64Array(live);
        for (let slot = 0, at = 0; slot < capacity; slot++) if (newest[slot]! > 0) times[at++] = newest[slot]!;
        // The keep-th newest time: what a sort would put at `live - keep`.
        cutoff = selectNth(times, live - keep);
      }
    }
    // Ties at the cutoff go too, so the table surely has room afterwards.
    this.#reclaim((slot) => newest[slot]! > cutoff);
  }

  /**
   * Keeps only the slots `keep` accepts, in the same table: the kept devices
   * are copied out (key and stamps, compactly), the table is cleared, and
   * they are placed again from their homes.
   */
  #reclaim(keep: (slot: number) => boolean): void {
    const keys = this.#keys;
    const words = this.#words;
    const capacity = this.#capacity;
    const stride = this.#stride;
    const half = stride / 2;
    const width = this.#width;
    let kept = 0;
    for (let slot = 0; slot < capacity; slot++) if (keys[slot * half] !== EMPTY && keep(slot)) kept++;
    const keptKeys = new Float64Array(kept);
    const keptStamps = new Uint32Array(kept * width);
    for (let slot = 0, k = 0; slot < capacity; slot++) {
      if (keys[slot * half] === EMPTY || !keep(slot)) continue;
      keptKeys[k] = keys[slot * half]!;
      for (let c = 0; c < width; c++) keptStamps[k * width + c] = words[slot * stride + 2 + c]!;
      k++;
    }
    words.fill(0);
    for (let k = 0; k < kept; k++) {
      const stored = keptKeys[k]!;
      const slot = this.#firstEmptyFrom(this.#home(stored - 1));
      keys[slot * half] = stored;
      for (let c = 0; c < width; c++) words[slot * stride + 2 + c] = keptStamps[k * width + c]!;
    }
    this.#size = kept;
    this.#version++;
  }

  /** The first empty slot at or after `slot` (wrapping): where a key not in the table goes when placed from its home. */
  #firstEmptyFrom(slot: number): number {
    const keys = this.#keys;
    const half = this.#stride / 2;
    const capacity = this.#capacity;
    while (keys[slot * half] !== EMPTY) slot = slot + 1 === capacity ? 0 : slot + 1;
    return slot;
  }

  /** Re-places every slot into a new table of `capacity` slots with room for `width` registries (growth, a new registry). */
  #rebuild(capacity: number, width: number): void {
    const oldKeys = this.#keys;
    const oldWords = this.#words;
    const oldCapacity = this.#capacity;
    const oldStride = this.#stride;
    const oldHalf = oldStride / 2;
    const stride = 2 + width;
    const half = stride / 2;
    const columns = this.#columns.size;
    this.#capacity = capacity;
    this.#width = width;
    this.#stride = stride;
    const [keys, words] = this.#allocate(capacity, stride);
    this.#keys = keys;
    this.#words = words;
    let size = 0;
    for (let from = 0; from < oldCapacity; from++) {
      const stored = oldKeys[from * oldHalf]!;
      if (stored === EMPTY) continue;
      const slot = this.#firstEmptyFrom(this.#home(stored - 1));
      keys[slot * half] = stored;
      for (let c = 0; c < columns; c++) words[slot * stride + 2 + c] = oldWords[from * oldStride + 2 + c]!;
      size++;
    }
    this.#size = size;
    this.#version++;
  }
}

/**
 * The value a sort of `values` would put at index `n` (0-based, ascending),
 * found by quickselect (Hoare's partition, middle pivot): linear on average,
 * where a sort is n log n. Reorders `values`.
 */
export function selectNth(values: Float64Array, n: number): number {
  let low = 0;
  let high = values.length - 1;
  while (low < high) {
    const pivot = values[(low + high) >>> 1]!;
    let i = low;
    let j = high;
    while (i <= j) {
      while (values[i]! < pivot) i++;
      while (values[j]! > pivot) j--;
      if (i <= j) {
        const swap = values[i]!;
        values[i++] = values[j]!;
        values[j--] = swap;
      }
    }
    // [low, j] <= pivot <= [i, high]; between them, values equal to the pivot.
    if (n <= j) high = j;
    else if (n >= i) low = i;
    else return values[n]!;
  }
  return values[n]!;
}
