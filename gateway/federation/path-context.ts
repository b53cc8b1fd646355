/**
 * What the lookup path and the bulk path share: the cache, the registries'
 * freshness, one batcher per registry link, the deadline rule, metrics; and
 * the two steps both take around asking a registry: the cache first, and a
 * registry's failure answered with its held listed answers, stale.
 */
import { durationMs } from "@bufbuild/protobuf/wkt";
import type { DeviceKey } from "../../device/index.js";
import type { DeviceCheck } from "../../gen/imeifed/v1/registry_pb.js";
import type { Unanswered } from "../../gen/imeifed/v1/federation_pb.js";
import type { AnswerSheet } from "./answer-sheet.js";
import { askHub } from "./hub-link.js";
import type { CheckOptions } from "./federated-answer.js";
import type { FindingCache, KeyColumn, RegistryAnswer } from "../cache/finding-cache.js";
import type { GatewayMetrics } from "../gateway-metrics.js";
import type { RegistryBatcher } from "../upstream/registry-batcher.js";
import type { RegistryLink } from "../upstream/registry-link.js";
import { upstreamDeadline } from "../upstream/upstream-deadline.js";

/** Whether a registry's change stream currently keeps the cache true for it. */
export interface Freshness {
  live(country: string): boolean;
}

export interface PathContext {
  readonly cache: FindingCache;
  readonly freshness: Freshness;
  readonly metrics: GatewayMetrics | undefined;
  /** Kept back from the caller's deadline (config `deadlines.marginMs`). */
  readonly marginMs: number;
  /** The links asked for `countries` (all when absent or empty). */
  targets(countries: readonly string[] | undefined): readonly RegistryLink[];
  /** The batcher of a registry link (every registry link has one). */
  batcherOf(link: RegistryLink): RegistryBatcher;
}

/** The deadline of one call to `link` on behalf of `opts`'s caller. */
export function deadlineFor(ctx: PathContext, link: RegistryLink, opts: CheckOptions, now: number): Date {
  return upstreamDeadline(opts.deadline, { marginMs: ctx.marginMs, capMs: link.timeoutMs }, now);
}

/**
 * Asks every upstream `opts` targets about `column`'s devices, into `sheet`:
 * a hub through the hub link; a registry from the cache first, then by
 * `askRegistry` about the devices the cache could not answer (the path's own
 * way). Resolves when every upstream has answered or failed.
 */
export async function askTargets(ctx: PathContext, column: KeyColumn, opts: CheckOptions, sheet: AnswerSheet, now: number, askRegistry: (link: RegistryLink, misses: Int32Array) => Promise<void>): Promise<void> {
  const asks: Promise<void>[] = [];
  for (const link of ctx.targets(opts.countries)) {
    sheet.askedOneMore();
    if (link.kind === "gateway") {
      asks.push(askHub(link, column.keys, opts, sheet, ctx.marginMs));
      continue;
    }
    const misses = answerFromCache(ctx, link, column, opts.requester.id, sheet, now);
    if (misses.length > 0) asks.push(askRegistry(link, misses));
  }
  if (asks.length > 0) await Promise.all(asks);
}

/**
 * Answers what the cache may answer for `link` into `sheet` (only while the
 * registry's change stream is live); returns the positions of the devices
 * the registry must be asked about. Synchronous: a lookup answered wholly
 * from the cache never waits on a promise per registry.
 */
export function answerFromCache(ctx: PathContext, link: RegistryLink, column: KeyColumn, requesterId: string, sheet: AnswerSheet, now: number): Int32Array {
  const n = column.length;
  let misses: Int32Array;
  if (ctx.freshness.live(link.country)) {
    misses = ctx.cache.lookUpMany(column, link.country, requesterId, now, sheet);
  } else {
    misses = new Int32Array(n);
    for (let i = 0; i < n; i++) misses[i] = i;
  }
  const hits = n - misses.length;
  if (hits > 0) ctx.metrics?.cacheHit?.(link.country, hits);
  if (misses.length > 0) ctx.metrics?.cacheMiss?.(link.country, misses.length);
  return misses;
}

/** `link` could not answer about device `i` (`key`): listed unanswered, with its held PROHIBITED / TRACKED answer served stale. */
export function registryFailed(ctx: PathContext, link: RegistryLink, key: DeviceKey, i: number, requesterId: string, sheet: AnswerSheet, unanswered: Unanswered): void {
  sheet.failed(i, unanswered, ctx.cache.get(key, link.country, requesterId));
}

/** What the cache keeps of a registry's check. */
export function answerOf(check: DeviceCheck): RegistryAnswer {
  return { status: check.status, finding: check.finding, cacheMaxAgeMs: check.cacheMaxAge ? durationMs(check.cacheMaxAge) : undefined };
}
