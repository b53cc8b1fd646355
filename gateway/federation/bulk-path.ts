/**
 * The bulk path (Screen): a manifest's chunk through the same cache, links,
 * breakers and deadlines as the lookup path, but the misses go straight to
 * CheckDevices in calls of each registry's batch limit asking for sparse
 * answers, with no coalescing and no promise per device, and the answers are
 * read by position. Listed (PROHIBITED / TRACKED) answers go to the cache as
 * they come; clean ones are gathered and stored once every registry has
 * answered (`storeMany`), so a repeated manifest is answered without the
 * registries.
 */
import type { Duration } from "@bufbuild/protobuf/wkt";
import { durationMs } from "@bufbuild/protobuf/wkt";
import type { DeviceKey } from "../../device/index.js";
import { Code } from "../../errors/index.js";
import type { DeviceCheck } from "../../gen/imeifed/v1/registry_pb.js";
import { AnswerSheet, type BulkAnswers } from "./answer-sheet.js";
import type { CheckOptions } from "./federated-answer.js";
import { KeyColumn, type CleanAnswersFrom } from "../cache/finding-cache.js";
import { answerOf, askTargets, deadlineFor, registryFailed, type PathContext } from "./path-context.js";
import type { BulkOutcome } from "../upstream/registry-batcher.js";
import type { RegistryLink } from "../upstream/registry-link.js";
import { unansweredOf } from "../upstream/upstream-outcome.js";
import { isListed } from "../lookup/verdict.js";

/** The registries' clean answers about a chunk, one `CleanAnswersFrom` per registry, for the cache's `storeMany`. */
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

export class BulkPath {
  readonly #ctx: PathContext;

  constructor(ctx: PathContext) {
    this.#ctx = ctx;
  }

  /** Answers for a manifest's chunk, read by position; `keyNumbers`: the keys as numbers, if the caller has them. Never throws for a registry's failure. */
  async check(keys: readonly DeviceKey[], opts: CheckOptions, keyNumbers?: Float64Array): Promise<BulkAnswers> {
    const sheet = new AnswerSheet(keys.length);
    const now = Date.now();
    const column = new KeyColumn(keys, keyNumbers);
    const clean = new CleanAnswersGathered(keys.length);
    await askTargets(this.#ctx, column, opts, sheet, now, (link, misses) => this.#ask(link, keys, misses, opts, sheet, now, clean));
    this.#ctx.cache.storeMany(column, opts.requester.id, clean.all);
    return sheet;
  }

  /** Asks `link` about the missed devices in calls of its batch limit, each call's answers taken as it comes. */
  async #ask(link: RegistryLink, keys: readonly DeviceKey[], misses: Int32Array, opts: CheckOptions, sheet: AnswerSheet, now: number, clean: CleanAnswersGathered): Promise<void> {
    const requesterId = opts.requester.id;
    const deadline = deadlineFor(this.#ctx, link, opts, now);
    const ticket = this.#ctx.cache.ticket();
    const missKeys = misses.length === keys.length ? keys : Array.from(misses, (i) => keys[i]!);
    const take = { link, requesterId, ticket, missKeys, misses, sheet, clean: clean.from(link.country, ticket) };
    await this.#ctx.batcherOf(link).askBulk(missKeys, { requester: opts.requester, purpose: opts.purpose }, deadline, (start, count, outcome) => this.#take(take, start, count, outcome));
  }

  /**
   * One call's outcome about `missKeys[start, start + count)`: a failure
   * fails each of its devices; an answer, sparse or full (bulk-answer.ts), is
   * read in one pass: a listed device's check to the cache and the sheet, a
   * clean device's answer time and max age to `clean`.
   */
  #take(
    { link, requesterId, ticket, missKeys, misses, sheet, clean }: { link: RegistryLink; requesterId: string; ticket: number; missKeys: readonly DeviceKey[]; misses: Int32Array; sheet: AnswerSheet; clean: CleanAnswersFrom },
    start: number,
    count: number,
    outcome: BulkOutcome,
  ): void {
    const { cache } = this.#ctx;
    if (!outcome.ok) {
      if (outcome.error.code === Code.PERMISSION_DENIED) cache.refused(link.country, requesterId);
      // One Unanswered for the whole call: every device of it failed the same way (read-only, so it can be shared).
      const unanswered = unansweredOf(link.country, outcome.error);
      for (let j = start; j < start + count; j++) registryFailed(this.#ctx, link, missKeys[j]!, misses[j]!, requesterId, sheet, unanswered);
      return;
    }
    const { answer, answeredAt } = outcome;
    const { checks, listedIndexes } = answer;
    // Sparse: every device not at `listedIndexes` is PERMITTED for one max age. Full: a check per device.
    const unlistedMs = listedIndexes === undefined ? undefined : durationMs(answer.unlistedCacheMaxAge);
    if (count > 0) cache.answered(link.country, requesterId, answeredAt, listedIndexes === undefined ? maxAgeMsOf(checks[0]!.cacheMaxAge) : unlistedMs);
    // The decoder shares one Duration among a call's checks: converted once while it stays the same.
    let maxAge: Duration | undefined;
    let maxAgeMs: number | undefined;
    let next = 0;
    for (let j = 0; j < count; j++) {
      let check: DeviceCheck | undefined;
      if (listedIndexes === undefined) check = checks[j];
      else if (next < listedIndexes.length && listedIndexes[next] === j) check = checks[next++];
      const i = misses[start + j]!;
      if (check === undefined) {
        clean.answeredAt[i] = answeredAt;
        clean.maxAgeMs[i] = unlistedMs ?? Number.NaN;
        continue;
      }
      if (isListed(check.status)) {
        cache.put(missKeys[start + j]!, link.country, requesterId, answerOf(check), ticket, answeredAt);
        if (check.finding) sheet.listed(i, check.finding);
        continue;
      }
      if (check.cacheMaxAge !== maxAge) {
        maxAge = check.cacheMaxAge;
        maxAgeMs = maxAgeMsOf(maxAge);
      }
      clean.answeredAt[i] = answeredAt;
      clean.maxAgeMs[i] = maxAgeMs ?? Number.NaN;
    }
  }
}

function maxAgeMsOf(maxAge: Duration | undefined): number | undefined {
  return maxAge ? durationMs(maxAge) : undefined;
}
