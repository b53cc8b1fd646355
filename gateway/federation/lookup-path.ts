/**
 * The lookup path (Lookup, ReportFound): for each asked registry, the cache
 * first; the misses join the registry's batcher, coalesced with concurrent
 * asks for the same devices and gathered into batches; each answer is cached
 * as it comes. A registry that fails is listed as unanswered, with its held
 * PROHIBITED / TRACKED findings served stale; it never fails the answer.
 */
import type { DeviceKey } from "../../device/index.js";
import { Code } from "../../errors/index.js";
import { AnswerSheet } from "./answer-sheet.js";
import type { CheckOptions, FederatedAnswer } from "./federated-answer.js";
import { KeyColumn } from "../cache/finding-cache.js";
import { answerOf, askTargets, deadlineFor, registryFailed, type PathContext } from "./path-context.js";
import type { RegistryLink } from "../upstream/registry-link.js";
import { unansweredOf } from "../upstream/upstream-outcome.js";
import { isListed } from "../lookup/verdict.js";

export class LookupPath {
  readonly #ctx: PathContext;

  constructor(ctx: PathContext) {
    this.#ctx = ctx;
  }

  /** Answers for `keys`, in the same order. Never throws for a registry's failure. */
  async check(keys: readonly DeviceKey[], opts: CheckOptions): Promise<FederatedAnswer[]> {
    const sheet = new AnswerSheet(keys.length);
    const now = Date.now();
    const column = new KeyColumn(keys);
    await askTargets(this.#ctx, column, opts, sheet, now, (link, misses) => this.#ask(link, keys, misses, opts, sheet, now));
    return sheet.answers(keys);
  }

  /** Asks `link` about the missed devices through its batcher and caches each answer. */
  async #ask(link: RegistryLink, keys: readonly DeviceKey[], misses: Int32Array, opts: CheckOptions, sheet: AnswerSheet, now: number): Promise<void> {
    const { cache } = this.#ctx;
    const requesterId = opts.requester.id;
    const deadline = deadlineFor(this.#ctx, link, opts, now);
    const ticket = cache.ticket();
    const missKeys = Array.from(misses, (i) => keys[i]!);
    const results = await this.#ctx.batcherOf(link).ask(missKeys, { requester: opts.requester, purpose: opts.purpose }, deadline);
    results.forEach((result, j) => {
      const i = misses[j]!;
      const key = missKeys[j]!;
      if (result.ok) {
        const check = result.answer;
        cache.put(key, link.country, requesterId, answerOf(check), ticket, result.answeredAt);
        if (check.finding && isListed(check.status)) sheet.listed(i, check.finding);
        return;
      }
      if (result.error.code === Code.PERMISSION_DENIED) cache.refused(link.country, requesterId);
      registryFailed(this.#ctx, link, key, i, requesterId, sheet, unansweredOf(link.country, result.error));
    });
  }
}
