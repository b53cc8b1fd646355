/**
 * The gateway's upstream side, as its handlers see it: Lookup and ReportFound
 * ask through the lookup path (lookup-path.ts), Screen through the bulk path
 * (bulk-path.ts); a hub upstream is asked by the hub link (hub-link.ts). Here
 * they are put together over one cache and one batcher per registry link.
 */
import type { DeviceKey } from "../../device/index.js";
import type { BulkAnswers } from "./answer-sheet.js";
import { BulkPath } from "./bulk-path.js";
import type { GatewayConfig } from "../config.js";
import type { CheckOptions, FederatedAnswer } from "./federated-answer.js";
import type { FindingCache } from "../cache/finding-cache.js";
import type { GatewayMetrics } from "../gateway-metrics.js";
import { LookupPath } from "./lookup-path.js";
import type { Freshness, PathContext } from "./path-context.js";
import { RegistryBatcher, type FlushEvent } from "../upstream/registry-batcher.js";
import type { RegistryLink } from "../upstream/registry-link.js";
import { verdictOf } from "../lookup/verdict.js";

export type { BulkAnswers } from "./answer-sheet.js";
export type { CheckOptions, FederatedAnswer } from "./federated-answer.js";
export type { Freshness } from "./path-context.js";
export { verdictOf };

export interface FederationCheckerOptions {
  links: readonly RegistryLink[];
  cache: FindingCache;
  config: Pick<GatewayConfig, "deadlines" | "batching">;
  freshness: Freshness;
  metrics?: GatewayMetrics;
  /** Told of every batch sent to a registry (tests, diagnostics). */
  onFlush?: (country: string, event: FlushEvent) => void;
}

/** Asks the federation about devices: cache first, then the registries. */
export class FederationChecker {
  readonly links: readonly RegistryLink[];
  readonly cache: FindingCache;
  readonly #batchers = new Map<RegistryLink, RegistryBatcher>();
  readonly #lookup: LookupPath;
  readonly #bulk: BulkPath;

  constructor(options: FederationCheckerOptions) {
    this.links = options.links;
    this.cache = options.cache;
    for (const link of options.links) {
      if (link.kind === "registry") this.#batchers.set(link, batcherFor(link, options));
    }
    const ctx: PathContext = {
      cache: options.cache,
      freshness: options.freshness,
      metrics: options.metrics,
      marginMs: options.config.deadlines.marginMs,
      targets: (countries) => this.#targets(countries),
      batcherOf: (link) => this.#batchers.get(link)!,
    };
    this.#lookup = new LookupPath(ctx);
    this.#bulk = new BulkPath(ctx);
  }

  /** The links asked for `countries` (all when absent or empty). */
  #targets(countries: readonly string[] | undefined): readonly RegistryLink[] {
    if (!countries || countries.length === 0) return this.links;
    return this.links.filter((link) => countries.some((c) => link.answersFor(c)));
  }

  /** The federated answer for one device. Never throws for a registry's failure: it lists the registry as unanswered. */
  async check(key: DeviceKey, opts: CheckOptions): Promise<FederatedAnswer> {
    const [answer] = await this.checkMany([key], opts);
    return answer!;
  }

  /** Answers for many devices, in the same order; misses go upstream in batches no larger than each registry's limit, coalesced with concurrent asks. */
  checkMany(keys: readonly DeviceKey[], opts: CheckOptions): Promise<FederatedAnswer[]> {
    return this.#lookup.check(keys, opts);
  }

  /** Answers for a manifest's chunk (screening), read by position (see bulk-path.ts); `keyNumbers`: the keys as numbers, if the caller has them. */
  checkBulkAnswers(keys: readonly DeviceKey[], opts: CheckOptions, keyNumbers?: Float64Array): Promise<BulkAnswers> {
    return this.#bulk.check(keys, opts, keyNumbers);
  }

  /** Ends every wait (gateway shutdown). */
  close(): void {
    for (const batcher of this.#batchers.values()) batcher.close();
  }
}

/** A registry link's batcher: its calls go through the link's breaker; their latency goes to the metrics. */
function batcherFor(link: RegistryLink, options: FederationCheckerOptions): RegistryBatcher {
  const { batching } = options.config;
  const { metrics, onFlush } = options;
  return new RegistryBatcher({
    limit: link.batchLimit,
    maxInFlight: batching.maxInFlight,
    maxWaitMs: batching.maxWaitMs,
    breaker: link.breaker,
    send: (keys, group, deadline) => link.checkDevices(keys, group, deadline),
    sendBulk: (keys, group, deadline) => link.checkDevicesInBulk(keys, group, deadline),
    onOutcome: ({ ok, error, elapsedMs }) => metrics?.upstreamLatency?.(link.country, elapsedMs, ok ? "ok" : (error?.reason ?? "error")),
    ...(onFlush ? { onFlush: (event: FlushEvent) => onFlush(link.country, event) } : {}),
  });
}
