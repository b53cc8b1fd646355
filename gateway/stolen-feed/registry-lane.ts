/**
 * One feed's way through one registry's changes. The feed reads the shared
 * follower's window from its own position whenever the window covers that
 * position; otherwise (a cursor older than the window, a replay, a registry
 * whose sequences restarted) it first catches up on a stream of its own,
 * counted against the registry's catch-up cap, and moves onto the window as
 * soon as the window covers where it got to. Either way it yields every event
 * after its position, in sequence order, or fails with a status saying what to do.
 */
import { Code, ImeifedError } from "../../errors/index.js";
import type { RegistryPosition } from "./feed-cursor.js";
import { followRegistryChanges, type ChangeSource, type FollowBackoff, type FollowLog } from "./registry-change-follower.js";
import type { SharedRegistryFeed, WindowReader } from "./shared-registry-feed.js";
import { stolenEventOf, type StolenEventBody } from "./stolen-event.js";
import type { FeedAudience, StolenFeedHub } from "./stolen-feed-hub.js";

/** An event of one registry, with the position it takes the feed to. */
export interface LaneEvent {
  readonly country: string;
  readonly epoch: string;
  readonly seq: bigint;
  readonly event: StolenEventBody;
}

export interface RegistryLaneOptions {
  readonly hub: StolenFeedHub;
  readonly audience: FeedAudience;
  readonly source: ChangeSource;
  /**
   * Where this feed stands: its cursor's position, the registry's head when
   * the feed opened, or `{ epoch: "", seq: 0 }` for a replay. Undefined: the
   * head, as soon as the shared follower knows it.
   */
  readonly from: RegistryPosition | undefined;
  readonly signal: AbortSignal;
  /** Ends the feed's call at once (the feed fell out of the window while its consumer was not reading). */
  readonly fail?: (error: ImeifedError) => void;
  readonly backoff?: FollowBackoff;
  readonly log?: FollowLog;
}

export class RegistryLane {
  readonly country: string;
  readonly #options: RegistryLaneOptions;
  #position: RegistryPosition | undefined;
  /** The event handed to the feed and not yet delivered: the position must not pass it. */
  #inFlight: LaneEvent | undefined;
  #feed: SharedRegistryFeed | undefined;
  #reader: WindowReader | undefined;

  constructor(options: RegistryLaneOptions) {
    this.#options = options;
    this.country = options.source.country;
    this.#position = options.from;
  }

  /**
   * How far the feed has got in this registry: every event up to it has been
   * delivered (`delivering` counts as delivered: it is the event whose cursor
   * is being made). Undefined while the lane has no position yet.
   */
  position(delivering?: LaneEvent): RegistryPosition | undefined {
    if (this.#inFlight !== undefined && this.#inFlight !== delivering) return this.#position;
    const position = this.#inFlight !== undefined ? { epoch: this.#inFlight.epoch, seq: this.#inFlight.seq } : this.#position;
    const feed = this.#feed;
    // Read everything the window holds: the changes up to the head that made no event are passed too.
    if (position && feed && this.#reader?.reading && !this.#reader.unread && feed.epoch === position.epoch && feed.head > position.seq) {
      return { epoch: position.epoch, seq: feed.head };
    }
    return position;
  }

  /** Every event after the lane's position, until the feed's signal aborts. */
  async *events(): AsyncGenerator<LaneEvent, void, undefined> {
    const { hub, audience, source, signal } = this.#options;
    const shared = hub.share(audience, source, this.#position ?? { epoch: "", seq: 0n });
    this.#feed = shared.feed;
    const feed = shared.feed;
    try {
      for (;;) {
        if (!(await feed.whenReady(signal))) return;
        let position = this.#position ?? { epoch: feed.epoch, seq: feed.head };
        if (position.epoch !== feed.epoch) {
          // Not the registry's epoch: its sequences restarted since (it would refuse the position), so every change of this epoch is new here.
          position = { epoch: feed.epoch, seq: 0n };
        }
        this.#position = position;
        let reader = feed.readFrom(position, () => this.#fellBehind());
        if (reader === undefined) {
          reader = yield* this.#catchUp(position);
          if (reader === undefined) return;
        }
        if (!(yield* this.#read(reader))) return;
      }
    } finally {
      this.#reader?.close();
      this.#reader = undefined;
      this.#feed = undefined;
      shared.release();
    }
  }

  /** Reads the window; true when the registry's sequences restarted (start over), false when the feed ended. */
  async *#read(reader: WindowReader): AsyncGenerator<LaneEvent, boolean, undefined> {
    this.#reader = reader;
    try {
      for (;;) {
        const next = reader.take();
        if (next === "reset") return true;
        if (next === "overrun") throw this.#tooSlow();
        if (next === undefined) {
          if (!(await reader.wait(this.#options.signal))) return false;
          continue;
        }
        yield* this.#deliver({ country: this.country, epoch: next.epoch, seq: next.seq, event: next.event });
      }
    } finally {
      reader.close();
      this.#reader = undefined;
    }
  }

  /**
   * Reads the registry on a stream of its own from `from` until the window
   * covers the position reached; returns the window's reader from there
   * (undefined when the feed ended first).
   */
  async *#catchUp(from: RegistryPosition): AsyncGenerator<LaneEvent, WindowReader | undefined, undefined> {
    const { hub, audience, source, signal } = this.#options;
    const feed = this.#feed!;
    const release = hub.takeCatchUp(this.country, audience.id, from);
    const stop = new AbortController();
    const onAbort = () => stop.abort();
    signal.addEventListener("abort", onAbort, { once: true });
    if (signal.aborted) stop.abort();
    const log = this.#options.log ?? (() => {});
    try {
      const followed = followRegistryChanges(source, from, { signal: stop.signal, log, ...(this.#options.backoff ? { backoff: this.#options.backoff } : {}) });
      for await (const item of followed) {
        if (item.type === "reset") {
          this.#position = item.position;
        } else if (item.type === "change") {
          const event = stolenEventOf(this.country, item.epoch, item.change, audience.tacFilter, log);
          if (event !== undefined) yield* this.#deliver({ country: this.country, epoch: item.epoch, seq: item.change.sequence, event });
          this.#position = { epoch: item.epoch, seq: item.change.sequence };
        } else {
          // Every change up to the caught-up sequence came through this stream.
          const at = this.#position;
          if (at === undefined || at.epoch === "" || (at.epoch === item.epoch && item.sequence > at.seq)) this.#position = { epoch: item.epoch, seq: item.sequence };
        }
        const reader = this.#position ? feed.readFrom(this.#position, () => this.#fellBehind()) : undefined;
        if (reader !== undefined) return reader;
      }
      return undefined;
    } finally {
      signal.removeEventListener("abort", onAbort);
      stop.abort();
      release();
    }
  }

  /** Hands one event to the feed; the position moves past it once the feed asks for the next. */
  async *#deliver(event: LaneEvent): AsyncGenerator<LaneEvent, void, undefined> {
    this.#inFlight = event;
    try {
      yield event;
      this.#position = { epoch: event.epoch, seq: event.seq };
    } finally {
      this.#inFlight = undefined;
    }
  }

  #tooSlow(): ImeifedError {
    const { audience, hub } = this.#options;
    return new ImeifedError(
      Code.RESOURCE_EXHAUSTED,
      "FEED_CONSUMER_TOO_SLOW",
      `${audience.id}'s feed fell more than ${hub.limits.replayWindow} events behind ${this.country}'s changes (stolenFeed.replayWindow) while it was not reading them; the gateway does not hold events for a consumer without bound: reconnect with the cursor of the last event you handled, nothing is skipped`,
    );
  }

  #fellBehind(): void {
    this.#options.fail?.(this.#tooSlow());
  }
}
