/**
 * What the gateway's stolen feeds share, and the bounds on them: one shared
 * follower per registry and manufacturer (started by the first feed that needs
 * it, stopped when the last one leaves), a cap on the feeds one manufacturer
 * may hold open, and a cap on the catch-up reads of each registry (feeds
 * resuming from before the shared window, or replaying a registry's history).
 * Past a cap, the feed is refused at once with RESOURCE_EXHAUSTED naming it.
 */
import { Code, ImeifedError } from "../../errors/index.js";
import type { RegistryPosition } from "./feed-cursor.js";
import type { ChangeSource, FollowBackoff, FollowLog } from "./registry-change-follower.js";
import { SharedRegistryFeed } from "./shared-registry-feed.js";
import type { TacFilter } from "./tac-filter.js";

/** The bounds (gateway config `stolenFeed`; see gateway/config.ts for the defaults and why). */
export interface StolenFeedLimits {
  /** Feeds (WatchStolen streams) one manufacturer may hold open on this gateway. */
  readonly maxStreamsPerPrincipal: number;
  /** Events each shared follower keeps; also the backlog (in changes) it reads before the head when it starts. */
  readonly replayWindow: number;
  /** Catch-up reads of one registry at a time, over every manufacturer. */
  readonly maxCatchUpsPerRegistry: number;
}

export interface StolenFeedHubOptions {
  readonly limits: StolenFeedLimits;
  readonly backoff?: FollowBackoff;
  readonly log?: FollowLog;
}

/** Whose shared followers: a manufacturer as the registries see it (its id) and as the feed filters for it. */
export interface FeedAudience {
  /** The manufacturer's principal id (messages, logs). */
  readonly id: string;
  /** Equal for feeds that may share followers: same principal, same identity upstream, same TAC prefixes. */
  readonly key: string;
  readonly tacFilter: TacFilter;
}

/** How long a refused feed should wait before trying again: a stream or a catch-up ends within seconds of its consumer. */
const RETRY_AFTER_MS = 1_000;

/** Undoes a take once (later calls do nothing), so a release in several `finally` blocks cannot count twice. */
function once(release: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    release();
  };
}

/** Counts one more under `key`, or throws `refusal(count)` when `max` are already counted; returns the release. */
function takeOne(counts: Map<string, number>, key: string, max: number, refusal: (count: number) => ImeifedError): () => void {
  const count = counts.get(key) ?? 0;
  if (count >= max) throw refusal(count);
  counts.set(key, count + 1);
  return once(() => {
    const left = (counts.get(key) ?? 1) - 1;
    if (left > 0) counts.set(key, left);
    else counts.delete(key);
  });
}

export class StolenFeedHub {
  readonly limits: StolenFeedLimits;
  readonly #options: StolenFeedHubOptions;
  readonly #shares = new Map<string, { feed: SharedRegistryFeed; users: number }>();
  readonly #streams = new Map<string, number>();
  readonly #catchUps = new Map<string, number>();

  constructor(options: StolenFeedHubOptions) {
    this.#options = options;
    this.limits = options.limits;
  }

  /** Counts one more feed of `principalId`, or refuses it at once past `maxStreamsPerPrincipal`; returns its release. */
  admitStream(principalId: string): () => void {
    const max = this.limits.maxStreamsPerPrincipal;
    return takeOne(
      this.#streams,
      principalId,
      max,
      (open) =>
        new ImeifedError(
          Code.RESOURCE_EXHAUSTED,
          "FEED_STREAMS_PER_PRINCIPAL",
          `${principalId} already has ${open} WatchStolen streams open on this gateway, the most stolenFeed.maxStreamsPerPrincipal (${max}) allows; a consumer needs one stream (two for failover): close one, or retry once an old stream has ended`,
          { retryAfterMs: RETRY_AFTER_MS },
        ),
    );
  }

  /**
   * The shared follower of `source`'s registry for `audience`, started from
   * `from` (bounded by the window) when this is its first user. Release it when
   * done: the last release stops it.
   */
  share(audience: FeedAudience, source: ChangeSource, from: RegistryPosition): { feed: SharedRegistryFeed; release: () => void } {
    const key = `${source.country}\n${audience.key}`;
    let shared = this.#shares.get(key);
    if (!shared) {
      const log = this.#options.log;
      const feed = new SharedRegistryFeed({
        source,
        tacFilter: audience.tacFilter,
        from,
        window: this.limits.replayWindow,
        ...(this.#options.backoff ? { backoff: this.#options.backoff } : {}),
        ...(log ? { log: (entry) => log({ ...entry, detail: `${entry.detail ?? ""}${entry.detail ? "; " : ""}manufacturer ${audience.id}` }) } : {}),
      });
      shared = { feed, users: 0 };
      this.#shares.set(key, shared);
      feed.start();
    }
    shared.users++;
    const entry = shared;
    return {
      feed: entry.feed,
      release: once(() => {
        if (--entry.users > 0) return;
        this.#shares.delete(key);
        void entry.feed.stop();
      }),
    };
  }

  /** A catch-up read of `country`, or RESOURCE_EXHAUSTED at once when all `maxCatchUpsPerRegistry` are in use; returns its release. */
  takeCatchUp(country: string, principalId: string, from: RegistryPosition): () => void {
    const max = this.limits.maxCatchUpsPerRegistry;
    const where = from.epoch === "" && from.seq === 0n ? "from its first change" : `from sequence ${from.seq}`;
    return takeOne(
      this.#catchUps,
      country,
      max,
      () =>
        new ImeifedError(
          Code.RESOURCE_EXHAUSTED,
          "FEED_CATCH_UP_BUSY",
          `${principalId}'s feed must read ${country}'s change log ${where} (before what the gateway holds in memory), and all ${max} catch-up reads of ${country} (stolenFeed.maxCatchUpsPerRegistry) are in use; retry with the same cursor in ${RETRY_AFTER_MS} ms: nothing is skipped`,
          { retryAfterMs: RETRY_AFTER_MS },
        ),
    );
  }
}
