/**
 * Keeps the cache true to one registry by following its WatchChanges stream:
 * every change drops that device's answers from that registry, so the next
 * lookup asks again. It resumes from the last sequence seen after a break
 * (reconnecting with exponential backoff), and when the registry cannot
 * resume it (FAILED_PRECONDITION: a new epoch, or a gap), everything held from
 * that registry is dropped and the stream restarts from 0.
 *
 * The cache may serve a registry's answers only while its follower is `live`
 * (caught up with the stream): otherwise a change could be missed.
 */
import { Code, ImeifedError } from "../../errors/index.js";
import type { Change } from "../../gen/imeifed/v1/registry_pb.js";
import type { FindingCache } from "./finding-cache.js";
import type { RegistryLink } from "../upstream/registry-link.js";
import { STREAM_EXPIRED } from "../../trust/stream-expired.js";

export interface ChangeFollowerOptions {
  link: RegistryLink;
  cache: FindingCache;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  /** Told of each change after the cache has dropped it (other modules may follow the same stream). */
  onChange?: (change: Change, epoch: string) => void;
  /** Told when the stream could not be followed (logs). */
  onError?: (error: ImeifedError) => void;
}

/** Follows one registry's change stream for as long as the gateway runs. */
export class ChangeFollower {
  readonly #options: ChangeFollowerOptions;
  readonly #abort = new AbortController();
  #live = false;
  #epoch = "";
  #sequence = 0n;
  #running: Promise<void> | undefined;
  #wake: (() => void) | undefined;
  readonly #liveWaiters = new Set<() => void>();

  constructor(options: ChangeFollowerOptions) {
    this.#options = options;
  }

  /** True while caught up with the stream: the cache's answers from this registry are current. */
  get live(): boolean {
    return this.#live;
  }

  /** The registry epoch and last sequence seen (for tests and diagnostics). */
  get position(): { epoch: string; sequence: bigint } {
    return { epoch: this.#epoch, sequence: this.#sequence };
  }

  /** Starts following; returns at once. */
  start(): void {
    this.#running ??= this.#run();
  }

  /** Resolves when the follower is live (or after `timeoutMs`, false). */
  waitLive(timeoutMs: number): Promise<boolean> {
    if (this.#live) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#liveWaiters.delete(done);
        resolve(this.#live);
      };
      const timer = setTimeout(done, timeoutMs);
      this.#liveWaiters.add(done);
    });
  }

  /** Reconnects now instead of waiting out the backoff (a registry was seen answering again). */
  nudge(): void {
    this.#wake?.();
  }

  async stop(): Promise<void> {
    this.#abort.abort();
    this.#wake?.();
    await this.#running;
  }

  #setLive(live: boolean): void {
    this.#live = live;
    if (live) for (const w of [...this.#liveWaiters]) w();
  }

  async #run(): Promise<void> {
    const { link, cache } = this.#options;
    let delay = this.#options.reconnectMinMs;
    let reopenAtOnce = false;
    while (!this.#abort.signal.aborted) {
      try {
        // With nothing to resume (first start, or after a gap) the backlog is irrelevant: everything
        // cached from this registry is dropped once the stream is live, so start from its head.
        const fromHead = this.#epoch === "";
        const stream = link.client.watchChanges(
          { afterSequence: this.#sequence, epoch: this.#epoch, fromHead },
          { signal: this.#abort.signal, metadata: await link.metadata(undefined, ["devices:watch"]) },
        );
        for await (const message of stream) {
          if (this.#epoch !== "" && message.epoch !== this.#epoch) {
            // The registry restarted its numbering without refusing our epoch: nothing held from it can be trusted.
            cache.dropRegistry(link.country);
            this.#sequence = 0n;
          }
          this.#epoch = message.epoch;
          const event = message.event;
          if (event.case === "change") {
            const change = event.value;
            cache.dropDevice(change.deviceKey, link.country, change.status);
            if (change.sequence > this.#sequence) this.#sequence = change.sequence;
            this.#options.onChange?.(change, message.epoch);
          } else if (event.case === "caughtUp") {
            if (event.value.sequence > this.#sequence) this.#sequence = event.value.sequence;
            // Answers cached before the stream was live may predate a change it will never replay.
            if (fromHead) cache.dropRegistry(link.country);
            this.#setLive(true);
            delay = this.#options.reconnectMinMs;
            // The registry answers again: let calls through without waiting out the cool-down.
            if (link.breaker.state !== "closed") link.breaker.recordSuccess();
          }
        }
      } catch (thrown) {
        const error = ImeifedError.from(thrown);
        if (this.#abort.signal.aborted) break;
        if (error.code === Code.FAILED_PRECONDITION) {
          // Cannot resume (new epoch, or our sequence is beyond the registry's): start over.
          cache.dropRegistry(link.country);
          this.#epoch = "";
          this.#sequence = 0n;
          delay = this.#options.reconnectMinMs;
        }
        reopenAtOnce = error.reason === STREAM_EXPIRED;
        this.#options.onError?.(error);
      } finally {
        this.#setLive(false);
      }
      if (this.#abort.signal.aborted) break;
      // A stream that outlived its token (the link mints a fresh one) is reopened at once: it is no failure of the registry.
      if (reopenAtOnce) {
        reopenAtOnce = false;
        continue;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay);
        this.#wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.#wake = undefined;
      delay = Math.min(this.#options.reconnectMaxMs, delay * 2);
    }
  }
}
