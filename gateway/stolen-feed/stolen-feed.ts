/**
 * One manufacturer's stolen feed: every registry's events for the
 * manufacturer's own devices, from the manufacturer's cursor, each with a
 * cursor covering every registry's position. The registries are read through
 * the hub's shared followers (one per registry and manufacturer, however many
 * feeds are open), so a feed costs the registries nothing of its own unless it
 * must catch up from before the shared window. Nothing is kept on the gateway
 * between connections: the cursor is the whole of a feed's state.
 *
 * Where each registry starts: right after the cursor's position for it; with
 * no position, at the registry's head when the feed opens (from its first
 * change when `replay` is set). The first output is always a cursor (no event)
 * saying so, and later cursor-only outputs follow the registries past other
 * devices' changes, so a consumer's saved cursor stays near the head.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { ImeifedError } from "../../errors/index.js";
import { encodeFeedCursor, type FeedCursor, type RegistryPosition } from "./feed-cursor.js";
import { mergeStreams } from "./merge-streams.js";
import type { ChangeSource, FollowBackoff, FollowLog } from "./registry-change-follower.js";
import { RegistryLane, type LaneEvent } from "./registry-lane.js";
import type { StolenEventInit } from "./stolen-event.js";
import type { FeedAudience, StolenFeedHub } from "./stolen-feed-hub.js";

export type { StolenEventInit } from "./stolen-event.js";

/** What the feed sends: an event (with its cursor), or a cursor alone. */
export type FeedOutput = { readonly event: StolenEventInit } | { readonly cursor: string };

export interface StolenFeedOptions {
  readonly hub: StolenFeedHub;
  readonly audience: FeedAudience;
  /** Every registry of the federation, each already authorised to act for this manufacturer. */
  readonly sources: readonly ChangeSource[];
  /** Where the manufacturer stopped. */
  readonly from: FeedCursor;
  /** Read the registries `from` holds no position for from their first change, not from their head. */
  readonly replay?: boolean;
  /** Each registry's head as the gateway follows it now (where a registry with no position starts); undefined when not known yet. */
  readonly headOf?: (country: string) => RegistryPosition | undefined;
  /** How often a feed sends its cursor when it moved without an event (0: only the opening cursor). */
  readonly progressIntervalMs?: number;
  /** Ends the feed's call at once with `error` (the handler's `ctx.abort`). */
  readonly fail?: (error: ImeifedError) => void;
  /** Ends the feed and every stream of its own. */
  readonly signal: AbortSignal;
  readonly backoff?: FollowBackoff;
  readonly log?: FollowLog;
}

const FROM_THE_BEGINNING: RegistryPosition = { epoch: "", seq: 0n };
const TICK = Symbol("tick");

/** Yields `TICK` every `ms` until `signal` aborts. */
async function* ticks(ms: number, signal: AbortSignal): AsyncGenerator<typeof TICK, void, undefined> {
  for (;;) {
    try {
      await sleep(ms, undefined, { signal });
    } catch {
      return;
    }
    yield TICK;
  }
}

/**
 * Yields the manufacturer's feed until `signal` aborts. Delivery is at least
 * once: each cursor covers only what was delivered before it (including the
 * changes that made no event), so reconnecting with it resumes right after.
 */
export async function* stolenFeed(options: StolenFeedOptions): AsyncGenerator<FeedOutput, void, undefined> {
  const { signal, from } = options;
  const lanes = options.sources.map(
    (source) =>
      new RegistryLane({
        hub: options.hub,
        audience: options.audience,
        source,
        from: from.get(source.country) ?? (options.replay ? FROM_THE_BEGINNING : options.headOf?.(source.country)),
        signal,
        ...(options.fail ? { fail: options.fail } : {}),
        ...(options.backoff ? { backoff: options.backoff } : {}),
        ...(options.log ? { log: options.log } : {}),
      }),
  );
  // Registries in the cursor that this gateway does not follow (removed from its config) keep their positions.
  const cursorNow = (delivering?: LaneEvent): string => {
    const positions = new Map<string, RegistryPosition>(from);
    for (const lane of lanes) {
      const position = lane.position(delivering?.country === lane.country ? delivering : undefined);
      if (position !== undefined) positions.set(lane.country, position);
    }
    return encodeFeedCursor(positions);
  };
  let sent = cursorNow();
  yield { cursor: sent };
  const progressMs = options.progressIntervalMs ?? 0;
  const streams: AsyncIterable<LaneEvent | typeof TICK>[] = lanes.map((lane) => lane.events());
  if (progressMs > 0) streams.push(ticks(progressMs, signal));
  for await (const item of mergeStreams(streams)) {
    if (signal.aborted) return;
    if (item === TICK) {
      const cursor = cursorNow();
      if (cursor !== sent) yield { cursor: (sent = cursor) };
      continue;
    }
    sent = cursorNow(item);
    yield { event: { ...item.event, cursor: sent } };
  }
}
