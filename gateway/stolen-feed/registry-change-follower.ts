/**
 * Follows one registry's WatchChanges stream from a position, for as long as
 * the feed lasts: a registry that is down or restarting is reconnected with
 * backoff and resumed after the last sequence handled, so its changes are
 * delayed, never lost; a new registry epoch (its sequences restarted) resumes
 * it from 0 (or, for a follower with a bounded start, from a bounded backlog
 * before the head: the shared followers of stolen-feed-hub.ts). It never throws for a registry's failure (the other registries'
 * events must keep flowing); it ends only when the feed is cancelled.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Change, WatchChangesResponse } from "../../gen/imeifed/v1/registry_pb.js";
import type { CallOptions } from "../../rpc/index.js";
import { Code, ImeifedError } from "../../errors/index.js";
import { STREAM_EXPIRED } from "../../trust/stream-expired.js";
import type { RegistryPosition } from "./feed-cursor.js";

/** One registry as the follower sees it: its country and a WatchChanges call (already authorised). */
export interface ChangeSource {
  readonly country: string;
  watchChanges(request: { afterSequence: bigint; epoch: string; fromHead?: boolean; headBacklog?: bigint }, options: CallOptions): AsyncIterable<WatchChangesResponse>;
}

/** What a follower yields; the feed updates its cursor from every item, and turns some changes into events. */
export type FollowedItem =
  | { readonly type: "change"; readonly country: string; readonly epoch: string; readonly change: Change }
  /** The registry's sequences restarted (new epoch, or our position is beyond its last): its position is now `position`. */
  | { readonly type: "reset"; readonly country: string; readonly position: RegistryPosition; readonly detail: string }
  /** The backlog is delivered: what follows is live. */
  | { readonly type: "caught-up"; readonly country: string; readonly epoch: string; readonly sequence: bigint };

/** How the follower waits between reconnections; defaults suit a registry restart (back within seconds). */
export interface FollowBackoff {
  /** First wait after a failure (default 100 ms). */
  readonly initialMs: number;
  /** The longest wait, also used when the registry refuses the gateway (default 5 s). */
  readonly maxMs: number;
}

export const DEFAULT_FOLLOW_BACKOFF: FollowBackoff = { initialMs: 100, maxMs: 5_000 };

/** How the follower reports disconnections, so operators see a registry that stays away. */
export type FollowLog = (entry: { level: "info" | "warn"; msg: string; country: string; detail?: string; retryInMs?: number }) => void;

export interface FollowOptions {
  readonly signal: AbortSignal;
  readonly backoff?: FollowBackoff;
  readonly log?: FollowLog;
  /**
   * Bounds where the follower starts while the registry has not yet answered
   * from its position (the first connection, and after a reset): at most this
   * many changes before the registry's head, never before `from`. Once the
   * registry has answered, reconnections resume exactly, whatever the backlog.
   * Unset: always exactly from the position (every change since).
   */
  readonly headBacklog?: bigint;
}

const START: RegistryPosition = { epoch: "", seq: 0n };

/** Codes that mean "this gateway or this requester is not allowed": retrying quickly will not help. */
const REFUSALS = new Set([Code.UNAUTHENTICATED, Code.PERMISSION_DENIED]);

/**
 * Streams one registry's changes after `from`, reconnecting until `signal`
 * aborts. Each change is yielded once per connection, in sequence order;
 * after a reconnection the stream resumes after the last change yielded.
 */
export async function* followRegistryChanges(source: ChangeSource, from: RegistryPosition, options: FollowOptions): AsyncGenerator<FollowedItem, void, undefined> {
  const { signal } = options;
  const backoff = options.backoff ?? DEFAULT_FOLLOW_BACKOFF;
  const log = options.log ?? (() => {});
  const country = source.country;
  let position = from;
  // Whether the registry has answered from `position`: until then a bounded follower asks for a bounded backlog.
  let confirmed = false;
  let waitMs = backoff.initialMs;
  // Logged on transitions only (lost, resumed), so a registry that stays down writes two lines, not one per retry.
  let down = false;
  while (!signal.aborted) {
    let progressed = false;
    let retryInMs = 0;
    try {
      const bounded = options.headBacklog !== undefined && !confirmed ? { fromHead: true, headBacklog: options.headBacklog } : {};
      const stream = source.watchChanges({ afterSequence: position.seq, epoch: position.epoch, ...bounded }, { signal });
      for await (const response of stream) {
        progressed = true;
        confirmed = true;
        if (down) {
          down = false;
          log({ level: "info", msg: "registry change stream resumed", country, detail: `after sequence ${position.seq}` });
        }
        if (position.epoch !== "" && response.epoch !== position.epoch) {
          // The registry should refuse a stale epoch itself; if it streams anyway, its sequences restarted.
          position = START;
          confirmed = false;
          yield { type: "reset", country, position, detail: `registry epoch changed to ${response.epoch}; resuming from sequence 0` };
          break;
        }
        if (position.epoch === "") {
          position = { epoch: response.epoch, seq: position.seq };
        }
        const event = response.event;
        if (event.case === "change") {
          // Drop anything at or before our position (a registry replaying its last change after a reconnection).
          if (event.value.sequence <= position.seq) continue;
          position = { epoch: position.epoch, seq: event.value.sequence };
          yield { type: "change", country, epoch: position.epoch, change: event.value };
        } else if (event.case === "caughtUp") {
          yield { type: "caught-up", country, epoch: position.epoch, sequence: event.value.sequence };
        }
      }
      // The registry ended the stream (a clean shutdown): reconnect.
      if (!signal.aborted && !down) {
        down = true;
        log({ level: "warn", msg: "registry change stream lost; reconnecting with backoff", country, detail: "the registry ended the stream" });
      }
    } catch (thrown) {
      if (signal.aborted) return;
      const error = ImeifedError.from(thrown);
      if (error.code === Code.FAILED_PRECONDITION && (position.epoch !== "" || position.seq !== 0n)) {
        // The registry says our position is not in its history (new epoch, or a restore from an older backup).
        position = START;
        confirmed = false;
        yield { type: "reset", country, position, detail: `registry refused the position (${error.message}); resuming from sequence 0` };
        continue;
      }
      // A stream that outlived the token it was opened with: reopen at once (the link mints a fresh one); no failure of the registry.
      if (error.reason === STREAM_EXPIRED && progressed) continue;
      const refused = REFUSALS.has(error.code);
      retryInMs = refused ? backoff.maxMs : waitMs;
      if (!down) {
        down = true;
        const msg = refused ? "registry refused the change stream; retrying slowly" : "registry change stream lost; reconnecting with backoff";
        log({ level: "warn", msg, country, detail: `${Code[error.code] ?? error.code}: ${error.message}`, retryInMs });
      }
    }
    if (progressed) waitMs = backoff.initialMs;
    const delay = retryInMs || waitMs;
    waitMs = Math.min(backoff.maxMs, waitMs * 2);
    // Jitter (±20%) keeps many feeds from reconnecting to a restarted registry in lockstep.
    const jittered = Math.round(delay * (0.8 + Math.random() * 0.4));
    try {
      await sleep(jittered, undefined, { signal });
    } catch {
      return;
    }
  }
}
