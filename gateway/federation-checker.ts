/**
 * The single upstream path of the gateway: Lookup, Screen and ReportFound ask
 * about devices through it. For each asked registry it answers from the cache
 * while that registry's change stream keeps the cache true, and otherwise asks
 * the registry, gathering concurrent misses into CheckDevices batches. A
 * registry that fails is listed as unanswered (with its cached PROHIBITED or
 * TRACKED findings served as stale); it never fails the whole answer.
 */
import { create } from "@bufbuild/protobuf";
import { durationFromMs, durationMs } from "@bufbuild/protobuf/wkt";
import type { DeviceKey } from "../device/index.js";
import { Code, ImeifedError } from "../errors/index.js";
import { DeviceStatus } from "../gen/imeifed/v1/device_pb.js";
import { RegistryFindingSchema, UnansweredReason, UnansweredSchema, type RegistryFinding, type Unanswered } from "../gen/imeifed/v1/federation_pb.js";
import type { GatewayConfig } from "./config.js";
import type { CheckOptions, FederatedAnswer } from "./federated-answer.js";
import type { FindingCache } from "./finding-cache.js";
import type { GatewayMetrics } from "./gateway-context.js";
import { RegistryBatcher, type BatchResult, type FlushEvent } from "./registry-batcher.js";
import type { RegistryLink } from "./registry-link.js";
import { upstreamDeadline } from "./upstream-deadline.js";
import { verdictOf } from "./verdict.js";

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

function isListed(status: DeviceStatus): boolean {
  return status === DeviceStatus.PROHIBITED || status === DeviceStatus.TRACKED;
}

/** Per-device accumulator while registries answer. */
interface Pending {
  findings: RegistryFinding[];
  unanswered: Unanswered[];
  cached: number;
  asked: number;
  ageMs: number;
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
      send: async (keys, group, deadline) => {
        const response = await link.client.checkDevices(
          { imeis: keys, purpose: group.purpose },
          { deadline, metadata: await link.metadata(group.requester) },
        );
        return response.checks;
      },
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

  /** Answers for many devices, in the same order; misses go upstream in batches no larger than each registry's limit. */
  async checkMany(keys: readonly DeviceKey[], opts: CheckOptions): Promise<FederatedAnswer[]> {
    const pending: Pending[] = keys.map(() => ({ findings: [], unanswered: [], cached: 0, asked: 0, ageMs: 0 }));
    const now = Date.now();
    const asks: Promise<void>[] = [];
    for (const link of this.targets(opts.countries)) {
      if (link.kind === "gateway") {
        asks.push(this.#askHub(link, keys, opts, pending));
        continue;
      }
      // The cache pass is synchronous: a lookup answered wholly from the cache never waits on a promise per registry.
      const misses = this.#fromCache(link, keys, opts, pending, now);
      if (misses.length > 0) asks.push(this.#askRegistry(link, keys, misses, opts, pending, now));
    }
    if (asks.length > 0) await Promise.all(asks);
    return keys.map((key, i) => {
      const p = pending[i]!;
      return { key, findings: p.findings, unanswered: p.unanswered, fromCache: p.asked > 0 && p.cached === p.asked, ageMs: p.ageMs };
    });
  }

  /** Answers what the cache may answer for `link`; returns the indexes of the keys it must ask. */
  #fromCache(link: RegistryLink, keys: readonly DeviceKey[], opts: CheckOptions, pending: Pending[], now: number): number[] {
    const { cache } = this;
    const metrics = this.#options.metrics;
    const requesterId = opts.requester.id;
    const fresh = this.#options.freshness.live(link.country);
    const misses: number[] = [];
    for (let i = 0; i < keys.length; i++) {
      const p = pending[i]!;
      p.asked += 1;
      const held = fresh ? cache.get(keys[i]!, link.country, requesterId, now) : undefined;
      if (held) {
        p.cached += 1;
        const age = now - held.answeredAt;
        if (age > p.ageMs) p.ageMs = age;
        if (held.finding && isListed(held.status)) p.findings.push(create(RegistryFindingSchema, { finding: held.finding, stale: false, age: durationFromMs(age) }));
        metrics?.cacheHit?.(link.country);
      } else {
        misses.push(i);
        metrics?.cacheMiss?.(link.country);
      }
    }
    return misses;
  }

  async #askRegistry(link: RegistryLink, keys: readonly DeviceKey[], misses: number[], opts: CheckOptions, pending: Pending[], now: number): Promise<void> {
    const { cache } = this;
    const requesterId = opts.requester.id;
    const deadline = upstreamDeadline(opts.deadline, { marginMs: this.#options.config.deadlines.marginMs, capMs: link.timeoutMs }, now);
    const ticket = cache.ticket();
    const missKeys = misses.map((i) => keys[i]!);
    const results: BatchResult[] = await this.#batchers.get(link)!.ask(missKeys, { requester: opts.requester, purpose: opts.purpose }, deadline);
    results.forEach((result, j) => {
      const i = misses[j]!;
      const key = missKeys[j]!;
      const p = pending[i]!;
      if (result.ok) {
        const check = result.check;
        cache.put(
          key,
          link.country,
          requesterId,
          { status: check.status, finding: check.finding, cacheMaxAgeMs: check.cacheMaxAge ? durationMs(check.cacheMaxAge) : undefined },
          ticket,
          result.answeredAt,
        );
        if (check.finding && isListed(check.status)) p.findings.push(create(RegistryFindingSchema, { finding: check.finding, stale: false, age: durationFromMs(0) }));
        return;
      }
      p.unanswered.push(create(UnansweredSchema, { country: link.country, reason: unansweredReasonOf(result.error), detail: result.error.message }));
      // A registry that cannot be asked: its earlier PROHIBITED / TRACKED answer still counts, marked stale with its age.
      const held = cache.get(key, link.country, requesterId);
      if (held?.finding && isListed(held.status)) {
        const age = Date.now() - held.answeredAt;
        if (age > p.ageMs) p.ageMs = age;
        p.findings.push(create(RegistryFindingSchema, { finding: held.finding, stale: true, age: durationFromMs(age) }));
      }
    });
  }

  /**
   * A hub upstream (another gateway) is asked with Lookup, one device at a
   * time; its findings and unanswered registries join ours as they are. Its
   * answers are not cached here: the hub has its own cache and change streams.
   */
  async #askHub(link: RegistryLink, keys: readonly DeviceKey[], opts: CheckOptions, pending: Pending[]): Promise<void> {
    const now = Date.now();
    const deadline = upstreamDeadline(opts.deadline, { marginMs: this.#options.config.deadlines.marginMs, capMs: link.timeoutMs }, now);
    const countries = opts.countries?.length ? opts.countries.filter((c) => link.upstream.countries.includes(c)) : [];
    const unansweredCountries = countries.length > 0 ? countries : link.upstream.countries.length > 0 ? link.upstream.countries : [link.country];
    await Promise.all(
      keys.map(async (key, i) => {
        const p = pending[i]!;
        p.asked += 1;
        if (!link.breaker.tryAcquire()) {
          for (const country of unansweredCountries) p.unanswered.push(create(UnansweredSchema, { country, reason: UnansweredReason.CIRCUIT_OPEN, detail: `hub ${link.country}: circuit open` }));
          return;
        }
        try {
          const response = await link.hub.lookup({ imei: key, countries, purpose: opts.purpose }, { deadline, metadata: await link.metadata(opts.requester) });
          link.breaker.recordSuccess();
          p.findings.push(...response.findings);
          p.unanswered.push(...response.unanswered);
          if (response.fromCache) p.cached += 1;
          const age = response.cacheAge ? durationMs(response.cacheAge) : 0;
          if (age > p.ageMs) p.ageMs = age;
        } catch (thrown) {
          const error = ImeifedError.from(thrown);
          if (isFailureOfRegistry(error, deadline.getTime() - now)) link.breaker.recordFailure();
          else link.breaker.recordNeutral();
          for (const country of unansweredCountries) {
            p.unanswered.push(create(UnansweredSchema, { country, reason: unansweredReasonOf(error), detail: `hub ${link.country}: ${error.message}` }));
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
