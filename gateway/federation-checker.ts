/**
 * The single upstream path of the gateway: Lookup, Screen and ReportFound ask
 * about devices through it. For each asked registry it answers from the cache
 * while that registry's change stream keeps the cache true, and otherwise asks
 * the registry, gathering concurrent misses into CheckDevices batches. A
 * registry that fails is listed as unanswered (with its cached PROHIBITED or
 * TRACKED findings served as stale); it never fails the whole answer.
 */
import { create } from "@bufbuild/protobuf";
import { durationFromMs, durationMs, type Duration } from "@bufbuild/protobuf/wkt";
import type { DeviceKey } from "../device/index.js";
import { Code, ImeifedError } from "../errors/index.js";
import type { Finding } from "../gen/imeifed/v1/device_pb.js";
import type { DeviceCheck } from "../gen/imeifed/v1/registry_pb.js";
import { RegistryFindingSchema, UnansweredReason, UnansweredSchema, type RegistryFinding, type Unanswered } from "../gen/imeifed/v1/federation_pb.js";
import type { GatewayConfig } from "./config.js";
import type { CheckOptions, FederatedAnswer } from "./federated-answer.js";
import { KeyColumn, type CacheHits, type CleanAnswersFrom, type FindingCache, type RegistryAnswer } from "./finding-cache.js";
import type { GatewayMetrics } from "./gateway-context.js";
import { RegistryBatcher, type BatchResult, type FlushEvent } from "./registry-batcher.js";
import type { RegistryLink } from "./registry-link.js";
import { upstreamDeadline } from "./upstream-deadline.js";
import { verdictOf } from "./verdict.js";
import { isListed } from "./verdict.js";

export type { CheckOptions, FederatedAnswer } from "./federated-answer.js";
export { verdictOf };

/** Calls this short are not held against a registry when they run out of time: the caller's deadline was too tight. */
const MIN_BLAMED_BUDGET_MS = 100;

/** Whether a registry's change stream currently keeps the cache true for it. */
export interface Freshness {
  live(country: string): boolean;
}

export interface FederationCheckerOptions {
  links: readonly RegistryLink[];
  cache: FindingCache;
  config: Pick<GatewayConfig, "deadlines" | "batching">;
  freshness: Freshness;
  metrics?: GatewayMetrics;
  /** Told of every batch sent to a registry (tests, diagnostics). */
  onFlush?: (country: string, event: FlushEvent) => void;
}

/** Maps an upstream failure to why the registry counts as unanswered. */
export function unansweredReasonOf(error: ImeifedError): UnansweredReason {
  if (error.reason === "CIRCUIT_OPEN") return UnansweredReason.CIRCUIT_OPEN;
  switch (error.code) {
    case Code.DEADLINE_EXCEEDED:
      return UnansweredReason.DEADLINE;
    case Code.PERMISSION_DENIED:
      return UnansweredReason.REFUSED;
    default:
      return UnansweredReason.UNAVAILABLE;
  }
}

function isFailureOfRegistry(error: ImeifedError, budgetMs: number): boolean {
  switch (error.code) {
    case Code.UNAVAILABLE:
    case Code.INTERNAL:
    case Code.UNKNOWN:
    case Code.DATA_LOSS:
      return true;
    case Code.DEADLINE_EXCEEDED:
      return budgetMs >= MIN_BLAMED_BUDGET_MS;
    default:
      return false;
  }
}

/** What the cache keeps of a registry's check. */
function answerOf(check: DeviceCheck): RegistryAnswer {
  return { status: check.status, finding: check.finding, cacheMaxAgeMs: check.cacheMaxAge ? durationMs(check.cacheMaxAge) : undefined };
}

function unansweredOf(link: RegistryLink, error: ImeifedError): Unanswered {
  return create(UnansweredSchema, { country: link.country, reason: unansweredReasonOf(error), detail: error.message });
}

/** The bulk path's answers by position (screening's `ChunkAnswers`). */
export interface BulkAnswers {
  findingsAt(i: number): readonly RegistryFinding[];
  unansweredAt(i: number): readonly Unanswered[];
}

/** Shared by the bulk path's answers that have no finding or no unanswered registry (read-only: never pushed to). */
const NONE: never[] = Object.freeze([]) as unknown as never[];

/**
 * The answers being gathered for a list of devices. Arrays are made only for
 * the devices that get a finding or an unanswered registry, and counters are
 * typed arrays: on a million-item manifest nearly every device has neither.
 */
class AnswerSheet implements BulkAnswers, CacheHits {
  readonly #size: number;
  /** Made at the first finding (or unanswered registry): nearly every chunk of a manifest has a few, many have none. */
  #findings: (RegistryFinding[] | undefined)[] | undefined;
  #unanswered: (Unanswered[] | undefined)[] | undefined;
  readonly #cached: Uint16Array;
  readonly #ageMs: Float64Array;
  /** Upstreams asked about every device (one per target). */
  #asked = 0;

  constructor(size: number) {
    this.#size = size;
    this.#cached = new Uint16Array(size);
    this.#ageMs = new Float64Array(size);
  }

  askedOneMore(): void {
    this.#asked += 1;
  }

  finding(i: number, finding: RegistryFinding): void {
    ((this.#findings ??= new Array<RegistryFinding[] | undefined>(this.#size))[i] ??= []).push(finding);
  }

  unanswered(i: number, unanswered: Unanswered): void {
    ((this.#unanswered ??= new Array<Unanswered[] | undefined>(this.#size))[i] ??= []).push(unanswered);
  }

  /** The cache answered device `i` for one upstream (`CacheHits`). */
  hit(i: number, ageMs: number, finding: Finding | undefined): void {
    this.fromCache(i);
    this.age(i, ageMs);
    if (finding) this.finding(i, create(RegistryFindingSchema, { finding, stale: false, age: durationFromMs(ageMs) }));
  }

  /** One upstream's answer for device `i` came from the cache (or a hub's cache). */
  fromCache(i: number): void {
    this.#cached[i] = this.#cached[i]! + 1;
  }

  age(i: number, ageMs: number): void {
    if (ageMs > this.#ageMs[i]!) this.#ageMs[i] = ageMs;
  }

  /** Device `i`'s findings (a shared frozen empty list when none). */
  findingsAt(i: number): readonly RegistryFinding[] {
    return this.#findings?.[i] ?? NONE;
  }

  /** Device `i`'s unanswered registries (a shared frozen empty list when none). */
  unansweredAt(i: number): readonly Unanswered[] {
    return this.#unanswered?.[i] ?? NONE;
  }

  /** The answers in key order; `shareEmpty` hands devices without findings one shared frozen empty list instead of a new one each. */
  answers(keys: readonly DeviceKey[], shareEmpty: boolean): FederatedAnswer[] {
    const out = new Array<FederatedAnswer>(keys.length);
    const asked = this.#asked;
    for (let i = 0; i < keys.length; i++) {
      out[i] = {
        key: keys[i]!,
        findings: this.#findings?.[i] ?? (shareEmpty ? NONE : []),
        unanswered: this.#unanswered?.[i] ?? (shareEmpty ? NONE : []),
        fromCache: asked > 0 && this.#cached[i] === asked,
        ageMs: this.#ageMs[i]!,
      };
    }
    return out;
  }
}

/**
 * The bulk path's clean answers, one column per registry, handed to the
 * cache's `storeMany` once every registry has answered (see there why
 * together). Whether an answer may still be stored is decided then, from the
 * ticket taken when it was asked, so a change that arrives meanwhile still wins.
 */
class CleanAnswersGathered {
  readonly #size: number;
  readonly #from: CleanAnswersFrom[] = [];

  constructor(size: number) {
    this.#size = size;
  }

  /** Where `country`'s clean answers go (0: none; a NaN max age: the registry set none). */
  from(country: string, ticket: number): CleanAnswersFrom {
    let from = this.#from.find((c) => c.country === country);
    if (!from) {
      from = { country, ticket, answeredAt: new Float64Array(this.#size), maxAgeMs: new Float64Array(this.#size) };
      this.#from.push(from);
    }
    return from;
  }

  get all(): readonly CleanAnswersFrom[] {
    return this.#from;
  }
}

/** Asks the federation about devices: cache first, then the registries. */
export class FederationChecker {
  readonly links: readonly RegistryLink[];
  readonly cache: FindingCache;
  readonly #options: FederationCheckerOptions;
  readonly #batchers = new Map<RegistryLink, RegistryBatcher>();

  constructor(options: FederationCheckerOptions) {
    this.#options = options;
    this.links = options.links;
    this.cache = options.cache;
    for (const link of options.links) {
      if (link.kind !== "registry") continue;
      this.#batchers.set(link, this.#batcherFor(link));
    }
  }

  #batcherFor(link: RegistryLink): RegistryBatcher {
    const { batching } = this.#options.config;
    const metrics = this.#options.metrics;
    return new RegistryBatcher({
      limit: link.batchLimit,
      maxInFlight: batching.maxInFlight,
      maxWaitMs: batching.maxWaitMs,
      admit: () => link.breaker.tryAcquire(),
      send: (keys, group, deadline) => link.checkDevices(keys, group, deadline),
      sendBulk: (keys, group, deadline) => link.checkDevicesInBulk(keys, group, deadline),
      onOutcome: ({ ok, error, budgetMs, elapsedMs }) => {
        if (ok) link.breaker.recordSuccess();
        else if (error && isFailureOfRegistry(error, budgetMs)) link.breaker.recordFailure();
        else link.breaker.recordNeutral();
        metrics?.upstreamLatency?.(link.country, elapsedMs, ok ? "ok" : (error?.reason ?? "error"));
      },
      ...(this.#options.onFlush ? { onFlush: (event: FlushEvent) => this.#options.onFlush!(link.country, event) } : {}),
    });
  }

  /** The batcher of a registry (tests and the benchmark read its counters). */
  batcher(country: string): RegistryBatcher | undefined {
    for (const [link, batcher] of this.#batchers) if (link.country === country) return batcher;
    return undefined;
  }

  /** The links asked for `countries` (all when absent or empty). */
  targets(countries: readonly string[] | undefined): readonly RegistryLink[] {
    if (!countries || countries.length === 0) return this.links;
    return this.links.filter((link) => countries.some((c) => link.answersFor(c)));
  }

  /** The federated answer for one device. Never throws for a registry's failure: it lists the registry as unanswered. */
  async check(key: DeviceKey, opts: CheckOptions): Promise<FederatedAnswer> {
    const [answer] = await this.checkMany([key], opts);
    return answer!;
  }

  /** Answers for many devices, in the same order; misses go upstream in batches no larger than each registry's limit, coalesced with concurrent asks. */
  async checkMany(keys: readonly DeviceKey[], opts: CheckOptions): Promise<FederatedAnswer[]> {
    return (await this.#check(keys, opts, false)).answers(keys, false);
  }

  /**
   * Answers for a manifest's worth of devices (screening): the same cache,
   * links, breakers and deadlines as `checkMany`, but misses go straight to
   * CheckDevices in calls of each registry's batch limit, with no coalescing
   * and no promise per device. Listed (PROHIBITED / TRACKED) answers go to the
   * LRU, clean ones to the compact clean-answer table (a few bytes a device,
   * so a repeated manifest is answered without the registries). With the
   * table off, only listed answers are cached (a million clean answers in the
   * LRU cost more than they save), and a clean answer about a device the LRU
   * already has an entry for still updates that entry. Answers without
   * findings share one frozen empty list.
   */
  async checkBulk(keys: readonly DeviceKey[], opts: CheckOptions): Promise<FederatedAnswer[]> {
    return (await this.#check(keys, opts, true)).answers(keys, true);
  }

  /** `checkBulk`'s answers read by position, without an answer object per device (screening reads only the few with findings); `keyNumbers`: the keys as numbers, if the caller has them. */
  async checkBulkAnswers(keys: readonly DeviceKey[], opts: CheckOptions, keyNumbers?: Float64Array): Promise<BulkAnswers> {
    return this.#check(keys, opts, true, keyNumbers);
  }

  /** `keyNumbers`: the bulk path's keys as numbers, when the caller already has them (screening does). */
  async #check(keys: readonly DeviceKey[], opts: CheckOptions, bulk: boolean, keyNumbers?: Float64Array): Promise<AnswerSheet> {
    const sheet = new AnswerSheet(keys.length);
    const now = Date.now();
    const asks: Promise<void>[] = [];
    const column = new KeyColumn(keys, keyNumbers);
    const clean = bulk ? new CleanAnswersGathered(keys.length) : undefined;
    for (const link of this.targets(opts.countries)) {
      sheet.askedOneMore();
      if (link.kind === "gateway") {
        asks.push(this.#askHub(link, keys, opts, sheet));
        continue;
      }
      // The cache pass is synchronous: a lookup answered wholly from the cache never waits on a promise per registry.
      const misses = this.#fromCache(link, column, opts, sheet, now);
      if (misses.length === 0) continue;
      asks.push(clean ? this.#askRegistryInBulk(link, keys, misses, opts, sheet, now, clean) : this.#askRegistry(link, keys, misses, opts, sheet, now));
    }
    if (asks.length > 0) await Promise.all(asks);
    if (clean) this.cache.storeMany(column, opts.requester.id, clean.all);
    return sheet;
  }

  /** Answers what the cache may answer for `link`; returns the positions of the keys it must ask. */
  #fromCache(link: RegistryLink, column: KeyColumn, opts: CheckOptions, sheet: AnswerSheet, now: number): Int32Array {
    const metrics = this.#options.metrics;
    const n = column.length;
    let misses: Int32Array;
    if (this.#options.freshness.live(link.country)) {
      misses = this.cache.lookUpMany(column, link.country, opts.requester.id, now, sheet);
    } else {
      misses = new Int32Array(n);
      for (let i = 0; i < n; i++) misses[i] = i;
    }
    const hits = n - misses.length;
    if (hits > 0) metrics?.cacheHit?.(link.country, hits);
    if (misses.length > 0) metrics?.cacheMiss?.(link.country, misses.length);
    return misses;
  }

  /** The per-device path: misses join the registry's batcher, coalesced with other asks for the same devices. */
  async #askRegistry(link: RegistryLink, keys: readonly DeviceKey[], misses: Int32Array, opts: CheckOptions, sheet: AnswerSheet, now: number): Promise<void> {
    const { cache } = this;
    const requesterId = opts.requester.id;
    const deadline = upstreamDeadline(opts.deadline, { marginMs: this.#options.config.deadlines.marginMs, capMs: link.timeoutMs }, now);
    const ticket = cache.ticket();
    const missKeys = Array.from(misses, (i) => keys[i]!);
    const results: BatchResult[] = await this.#batchers.get(link)!.ask(missKeys, { requester: opts.requester, purpose: opts.purpose }, deadline);
    results.forEach((result, j) => {
      const i = misses[j]!;
      const key = missKeys[j]!;
      if (result.ok) {
        const check = result.check;
        cache.put(key, link.country, requesterId, answerOf(check), ticket, result.answeredAt);
        if (check.finding && isListed(check.status)) sheet.finding(i, create(RegistryFindingSchema, { finding: check.finding, stale: false, age: durationFromMs(0) }));
        return;
      }
      if (result.error.code === Code.PERMISSION_DENIED) cache.refused(link.country, requesterId);
      this.#unanswered(link, key, i, requesterId, sheet, unansweredOf(link, result.error));
    });
  }

  /** The bulk path: misses go upstream in calls of the registry's batch limit; listed answers to the LRU, clean ones to the clean table. */
  async #askRegistryInBulk(
    link: RegistryLink,
    keys: readonly DeviceKey[],
    misses: Int32Array,
    opts: CheckOptions,
    sheet: AnswerSheet,
    now: number,
    clean: CleanAnswersGathered,
  ): Promise<void> {
    const { cache } = this;
    const requesterId = opts.requester.id;
    const deadline = upstreamDeadline(opts.deadline, { marginMs: this.#options.config.deadlines.marginMs, capMs: link.timeoutMs }, now);
    const ticket = cache.ticket();
    const missKeys = misses.length === keys.length ? keys : Array.from(misses, (i) => keys[i]!);
    await this.#batchers.get(link)!.askBulk(missKeys, { requester: opts.requester, purpose: opts.purpose }, deadline, (start, count, outcome) => {
      if (!outcome.ok) {
        if (outcome.error.code === Code.PERMISSION_DENIED) cache.refused(link.country, requesterId);
        // One Unanswered for the whole call: every device of it failed the same way (read-only, so it can be shared).
        const unanswered = unansweredOf(link, outcome.error);
        for (let j = start; j < start + count; j++) this.#unanswered(link, missKeys[j]!, misses[j]!, requesterId, sheet, unanswered);
        return;
      }
      const { answer, answeredAt } = outcome;
      const { checks, listedIndexes } = answer;
      const column = clean.from(link.country, ticket);
      // One answer: a listed one to the LRU (and the sheet) at once, a clean one gathered for `storeMany`.
      const take = (j: number, check: DeviceCheck | undefined, maxAgeMs: number | undefined) => {
        const i = misses[start + j]!;
        if (check !== undefined && isListed(check.status)) {
          cache.put(missKeys[start + j]!, link.country, requesterId, answerOf(check), ticket, answeredAt);
          if (check.finding) sheet.finding(i, create(RegistryFindingSchema, { finding: check.finding, stale: false, age: durationFromMs(0) }));
        } else {
          column.answeredAt[i] = answeredAt;
          column.maxAgeMs[i] = maxAgeMs ?? Number.NaN;
        }
      };
      if (listedIndexes === undefined) {
        // A full answer (a registry that predates sparse answers). The decoder shares one Duration among a call's checks: convert it once.
        let maxAge: Duration | undefined;
        let maxAgeMs: number | undefined;
        if (count > 0) cache.answered(link.country, requesterId, answeredAt, checks[0]!.cacheMaxAge ? durationMs(checks[0]!.cacheMaxAge) : undefined);
        for (let j = 0; j < count; j++) {
          const check = checks[j]!;
          if (check.cacheMaxAge !== maxAge) {
            maxAge = check.cacheMaxAge;
            maxAgeMs = maxAge ? durationMs(maxAge) : undefined;
          }
          take(j, check, maxAgeMs);
        }
        return;
      }
      // A sparse answer: the listed devices' checks at their positions, every other device PERMITTED for one max age.
      const unlistedMs = durationMs(answer.unlistedCacheMaxAge);
      if (count > 0) cache.answered(link.country, requesterId, answeredAt, unlistedMs);
      let next = 0;
      for (let j = 0; j < count; j++) {
        if (next < listedIndexes.length && listedIndexes[next] === j) {
          const check = checks[next++]!;
          take(j, check, check.cacheMaxAge ? durationMs(check.cacheMaxAge) : undefined);
        } else {
          take(j, undefined, unlistedMs);
        }
      }
    });
  }

  /** `link` could not answer about device `i`: its earlier PROHIBITED / TRACKED answer still counts, marked stale with its age. */
  #unanswered(link: RegistryLink, key: DeviceKey, i: number, requesterId: string, sheet: AnswerSheet, unanswered: Unanswered): void {
    sheet.unanswered(i, unanswered);
    const held = this.cache.get(key, link.country, requesterId);
    if (held?.finding && isListed(held.status)) {
      const age = Date.now() - held.answeredAt;
      sheet.age(i, age);
      sheet.finding(i, create(RegistryFindingSchema, { finding: held.finding, stale: true, age: durationFromMs(age) }));
    }
  }

  /**
   * A hub upstream (another gateway) is asked with Lookup, one device at a
   * time; its findings and unanswered registries join ours as they are. Its
   * answers are not cached here: the hub has its own cache and change streams.
   */
  async #askHub(link: RegistryLink, keys: readonly DeviceKey[], opts: CheckOptions, sheet: AnswerSheet): Promise<void> {
    const now = Date.now();
    const deadline = upstreamDeadline(opts.deadline, { marginMs: this.#options.config.deadlines.marginMs, capMs: link.timeoutMs }, now);
    const countries = opts.countries?.length ? opts.countries.filter((c) => link.upstream.countries.includes(c)) : [];
    const unansweredCountries = countries.length > 0 ? countries : link.upstream.countries.length > 0 ? link.upstream.countries : [link.country];
    await Promise.all(
      keys.map(async (key, i) => {
        if (!link.breaker.tryAcquire()) {
          for (const country of unansweredCountries) sheet.unanswered(i, create(UnansweredSchema, { country, reason: UnansweredReason.CIRCUIT_OPEN, detail: `hub ${link.country}: circuit open` }));
          return;
        }
        try {
          const response = await link.hub.lookup({ imei: key, countries, purpose: opts.purpose }, { deadline, metadata: await link.metadata(opts.requester) });
          link.breaker.recordSuccess();
          for (const finding of response.findings) sheet.finding(i, finding);
          for (const unanswered of response.unanswered) sheet.unanswered(i, unanswered);
          if (response.fromCache) sheet.fromCache(i);
          sheet.age(i, response.cacheAge ? durationMs(response.cacheAge) : 0);
        } catch (thrown) {
          const error = ImeifedError.from(thrown);
          if (isFailureOfRegistry(error, deadline.getTime() - now)) link.breaker.recordFailure();
          else link.breaker.recordNeutral();
          for (const country of unansweredCountries) {
            sheet.unanswered(i, create(UnansweredSchema, { country, reason: unansweredReasonOf(error), detail: `hub ${link.country}: ${error.message}` }));
          }
        }
      }),
    );
  }

  /** Ends every wait (gateway shutdown). */
  close(): void {
    for (const batcher of this.#batchers.values()) batcher.close();
  }
}
