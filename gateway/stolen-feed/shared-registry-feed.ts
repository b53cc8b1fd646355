/**
 * One registry's change stream, followed once for every open feed of one
 * manufacturer on this gateway (the registry applies its sharing policy to
 * that manufacturer, so followers cannot be shared between manufacturers).
 * It keeps the manufacturer's most recent events in a bounded window, which
 * every consumer reads at its own pace from its own position. The follower
 * never waits for a consumer and never holds more than the window: a consumer
 * that falls out of the window is told so (and its feed ended), never waited for.
 *
 * Coverage: a position (epoch, seq) is covered when every event after it up to
 * the head is in the window, that is `windowStart <= seq <= head` in the
 * current epoch. A consumer at a covered position is served from memory; any
 * other catches up on its own stream first (registry-lane.ts).
 */
import type { RegistryPosition } from "./feed-cursor.js";
import { followRegistryChanges, type ChangeSource, type FollowBackoff, type FollowLog } from "./registry-change-follower.js";
import { stolenEventOf, type StolenEventBody } from "./stolen-event.js";
import type { TacFilter } from "./tac-filter.js";

/** One event in the window: the change's sequence and epoch, and the event without its cursor. */
export interface WindowEntry {
  readonly epoch: string;
  readonly seq: bigint;
  readonly event: StolenEventBody;
}

export interface SharedRegistryFeedOptions {
  readonly source: ChangeSource;
  readonly tacFilter: TacFilter;
  /** Where the first consumer stands: the follower starts there, or at most `window` changes before the head when that is later. */
  readonly from: RegistryPosition;
  /** Events kept; also the backlog (in changes) a new follower reads before the head. */
  readonly window: number;
  readonly backoff?: FollowBackoff;
  readonly log?: FollowLog;
}

/** What a reader finds next: an event, nothing yet, or the end of its reading. */
export type ReadResult = WindowEntry | undefined | "reset" | "overrun";

/** One consumer's reading position in the window. */
export class WindowReader {
  /** The absolute index of the next entry to read. */
  #next: number;
  #state: "reading" | "reset" | "overrun" | "closed" = "reading";

  /** @private built by SharedRegistryFeed.readFrom */
  constructor(
    private readonly feed: SharedRegistryFeed,
    next: number,
    /** Told once when the reader falls out of the window. */
    readonly onOverrun: () => void,
  ) {
    this.#next = next;
  }

  /** @private the window's entries up to this index were dropped, or `reset` ended them all. */
  end(state: "reset" | "overrun"): void {
    if (this.#state === "reading") this.#state = state;
  }

  /** @private */
  get next(): number {
    return this.#next;
  }

  /** True when an event is waiting to be read. */
  get unread(): boolean {
    return this.#state === "reading" && this.feed.entryAt(this.#next) !== undefined;
  }

  /** True while the reader follows the window (not reset, overrun or closed). */
  get reading(): boolean {
    return this.#state === "reading";
  }

  /** The next entry, nothing yet, or why reading ended. */
  take(): ReadResult {
    if (this.#state === "reset" || this.#state === "overrun") return this.#state;
    if (this.#state === "closed") return undefined;
    const entry = this.feed.entryAt(this.#next);
    if (entry !== undefined) this.#next++;
    return entry;
  }

  /** Resolves when something may have changed (an event, a reset, an overrun); false when `signal` aborted. */
  wait(signal: AbortSignal): Promise<boolean> {
    return this.feed.changed(signal);
  }

  close(): void {
    this.#state = "closed";
    this.feed.forget(this);
  }
}

export class SharedRegistryFeed {
  readonly country: string;
  readonly #options: SharedRegistryFeedOptions;
  readonly #abort = new AbortController();
  #epoch = "";
  #head = 0n;
  /** The oldest position covered, once the registry has answered since the last (re)start. */
  #windowStart: bigint | undefined;
  #ready = false;
  readonly #entries: WindowEntry[] = [];
  /** How many entries were ever dropped (the absolute index of #entries[0]). */
  #dropped = 0;
  readonly #readers = new Set<WindowReader>();
  readonly #waiters = new Set<() => void>();
  #running: Promise<void> | undefined;

  constructor(options: SharedRegistryFeedOptions) {
    this.#options = options;
    this.country = options.source.country;
  }

  /** The registry's epoch as followed (empty until it answered). */
  get epoch(): string {
    return this.#epoch;
  }

  /** The last sequence handled, including changes that made no event. */
  get head(): bigint {
    return this.#head;
  }

  /** True once the registry has answered and the backlog is read: positions can be judged. */
  get ready(): boolean {
    return this.#ready;
  }

  /** Starts following; returns at once. */
  start(): void {
    this.#running ??= this.#run();
  }

  /** Stops following and ends every reader's wait. */
  async stop(): Promise<void> {
    this.#abort.abort();
    this.#wake();
    await this.#running;
  }

  /** Whether a consumer at `position` can be served from the window alone. */
  covers(position: RegistryPosition): boolean {
    return this.#ready && position.epoch === this.#epoch && this.#windowStart !== undefined && position.seq >= this.#windowStart && position.seq <= this.#head;
  }

  /**
   * A reader of every event after `position`, or undefined when the window
   * does not cover it. Checking and attaching happen together, so no event
   * can slip between them.
   */
  readFrom(position: RegistryPosition, onOverrun: () => void): WindowReader | undefined {
    if (!this.covers(position)) return undefined;
    // The first entry after the position (entries are in sequence order).
    let low = 0;
    let high = this.#entries.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.#entries[mid]!.seq <= position.seq) low = mid + 1;
      else high = mid;
    }
    const reader = new WindowReader(this, this.#dropped + low, onOverrun);
    this.#readers.add(reader);
    return reader;
  }

  /** Resolves when the follower is ready (true), or false when `signal` aborted first. */
  async whenReady(signal: AbortSignal): Promise<boolean> {
    while (!this.#ready) {
      if (!(await this.changed(signal))) return false;
    }
    return !signal.aborted;
  }

  /** @private the entry at an absolute index, if still held. */
  entryAt(index: number): WindowEntry | undefined {
    return index < this.#dropped ? undefined : this.#entries[index - this.#dropped];
  }

  /** @private */
  forget(reader: WindowReader): void {
    this.#readers.delete(reader);
  }

  /** @private resolves on the next event, reset, overrun or readiness; false when `signal` aborted. */
  changed(signal: AbortSignal): Promise<boolean> {
    if (signal.aborted || this.#abort.signal.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const done = (result: boolean) => {
        this.#waiters.delete(wake);
        signal.removeEventListener("abort", onAbort);
        resolve(result);
      };
      const wake = () => done(!signal.aborted && !this.#abort.signal.aborted);
      const onAbort = () => done(false);
      this.#waiters.add(wake);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  #wake(): void {
    for (const wake of [...this.#waiters]) wake();
  }

  #append(entry: WindowEntry): void {
    this.#entries.push(entry);
    const overrun: WindowReader[] = [];
    while (this.#entries.length > this.#options.window) {
      const dropped = this.#entries.shift()!;
      this.#dropped++;
      // Positions from the dropped event on are still covered: every later event is held.
      this.#windowStart = dropped.seq;
      for (const reader of this.#readers) {
        if (reader.next < this.#dropped) {
          reader.end("overrun");
          this.#readers.delete(reader);
          overrun.push(reader);
        }
      }
    }
    this.#wake();
    // Told after the window is consistent again: ending a consumer's call may close its reader.
    for (const reader of overrun) queueMicrotask(reader.onOverrun);
  }

  /** The registry's sequences restarted: nothing held belongs to its history any more. */
  #reset(): void {
    this.#ready = false;
    this.#epoch = "";
    this.#head = 0n;
    this.#windowStart = undefined;
    this.#dropped += this.#entries.length;
    this.#entries.length = 0;
    for (const reader of this.#readers) reader.end("reset");
    this.#readers.clear();
    this.#wake();
  }

  async #run(): Promise<void> {
    const { source, tacFilter, from, window } = this.#options;
    const log = this.#options.log ?? (() => {});
    // Whether the window's start is known since the last (re)start: the registry's first answer sets it.
    let started = false;
    const followed = followRegistryChanges(source, from, {
      signal: this.#abort.signal,
      headBacklog: BigInt(window),
      ...(this.#options.backoff ? { backoff: this.#options.backoff } : {}),
      log,
    });
    for await (const item of followed) {
      if (item.type === "reset") {
        this.#reset();
        started = false;
        log({ level: "warn", msg: "registry sequences restarted; consumers replay it from sequence 0", country: item.country, detail: item.detail });
        continue;
      }
      if (item.type === "change") {
        const seq = item.change.sequence;
        // Started with a backlog: the window covers positions from just before the first change received.
        if (!started) this.#windowStart = seq - 1n;
        started = true;
        this.#epoch = item.epoch;
        this.#head = seq;
        const event = stolenEventOf(item.country, item.epoch, item.change, tacFilter, log);
        if (event !== undefined) this.#append({ epoch: item.epoch, seq, event });
        continue;
      }
      if (!started) this.#windowStart = item.sequence;
      started = true;
      this.#epoch = item.epoch;
      if (item.sequence > this.#head) this.#head = item.sequence;
      if (!this.#ready) {
        this.#ready = true;
        this.#wake();
      }
    }
  }
}
