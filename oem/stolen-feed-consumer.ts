/**
 * The reference consumer of the stolen feed: the loop a manufacturer runs to
 * put phones into stolen mode and take them out again, safely.
 *
 * For each event, in order:
 *   1. a repeat (an event id handled before) is skipped: delivery is at least once;
 *   2. the attestation is verified offline with the registries' public keys and
 *      its claims must match the event (device, registry, change, status);
 *   3. only then the manufacturer's `act` runs (it must be idempotent);
 *   4. the event's cursor and id are saved atomically to the cursor file.
 * A response without an event carries the feed's cursor alone (where it
 * starts, or how far it got past other devices' changes): it is saved too.
 * With no cursor yet (a first run), the consumer asks for a replay: every
 * registry's history once, so phones stolen before it started are acted on.
 * A refused event (step 2 fails) is reported and NOT acted on, but the cursor
 * still moves past it: one bad event must not stall every later one (including
 * CLEARED events that give people their phones back). The refusal names the
 * event id, so an operator can re-check it once the keys are fixed.
 * When `act` throws, the consumer stops without saving: the next run starts
 * with that same event again.
 *
 * The connection is re-opened with backoff from the last saved cursor whenever
 * it breaks (gateway restart, network), so a restart of either side loses nothing.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { StolenEvent, WatchStolenResponse } from "../gen/imeifed/v1/federation_pb.js";
import { Code, ImeifedError } from "../errors/index.js";
import type { AttestationClaims } from "../trust/attestation.js";
import { readCursorFile, writeCursorFile } from "./cursor-file.js";
import { checkEventAttestation } from "./event-attestation-check.js";
import { RecentEventIds } from "./recent-event-ids.js";
import type { RegistryKeySource } from "./registry-keys.js";
import { STREAM_EXPIRED } from "../trust/stream-expired.js";

/** What the consumer reports as it goes (the CLI prints these). */
export type ConsumerNotice =
  | { readonly type: "connected"; readonly cursor: string }
  | { readonly type: "acted"; readonly event: StolenEvent; readonly claims: AttestationClaims }
  | { readonly type: "refused"; readonly event: StolenEvent; readonly problem: string }
  | { readonly type: "repeat"; readonly event: StolenEvent }
  | { readonly type: "disconnected"; readonly error: ImeifedError; readonly retryInMs: number };

export interface StolenFeedConsumerOptions {
  /** Opens FederationService.WatchStolen from `cursor`; `replay` asks for the history of registries it holds no position for. */
  openFeed(cursor: string, signal: AbortSignal, replay: boolean): AsyncIterable<WatchStolenResponse>;
  /** The registries' public keys. */
  keys: RegistryKeySource;
  /** Where the cursor and recent event ids live between runs. */
  cursorFile: string;
  /** The manufacturer's action for a verified event (stolen mode on, recovery mode, stolen mode off). Must be idempotent. */
  act(event: StolenEvent, claims: AttestationClaims): void | Promise<void>;
  notify?(notice: ConsumerNotice): void;
  /** Stops the consumer (it then resolves normally). */
  signal?: AbortSignal;
  /** Stop after handling this many events (acted or refused); for scripts and tests. */
  maxEvents?: number;
  /** Reconnection waits (default 200 ms doubling to 10 s). */
  backoff?: { initialMs: number; maxMs: number };
  /** Consecutive authentication failures tolerated (the token file may be renewed meanwhile); default 3. */
  authRetries?: number;
  /** With no cursor yet, start at the registries' heads instead of replaying their history (default: replay). */
  fromNow?: boolean;
}

/** The manufacturer's action threw: the consumer stops so the next run retries the same event. */
export class ActionFailed extends Error {
  override readonly name = "ActionFailed";
  constructor(
    readonly eventId: string,
    cause: unknown,
  ) {
    super(`acting on event ${eventId} failed: ${(cause as Error)?.message ?? String(cause)}; the cursor was not moved past it`, { cause });
  }
}

/** Failures a reconnection cannot fix: the operator must act (wrong principal, bad cursor, old gateway). */
const FATAL = new Set([Code.PERMISSION_DENIED, Code.INVALID_ARGUMENT, Code.UNIMPLEMENTED, Code.FAILED_PRECONDITION, Code.OUT_OF_RANGE]);

/** Runs the consumer until `signal` aborts, `maxEvents` are handled, or a failure needs the operator. */
export async function consumeStolenFeed(options: StolenFeedConsumerOptions): Promise<{ handled: number; cursor: string }> {
  const signal = options.signal ?? new AbortController().signal;
  const notify = options.notify ?? (() => {});
  const backoff = options.backoff ?? { initialMs: 200, maxMs: 10_000 };
  const authRetries = options.authRetries ?? 3;
  const state = await readCursorFile(options.cursorFile);
  const recent = new RecentEventIds(state.recentEventIds);
  let cursor = state.cursor;
  let handled = 0;
  let waitMs = backoff.initialMs;
  let authFailures = 0;

  const save = () => writeCursorFile(options.cursorFile, { cursor, recentEventIds: recent.toArray() });

  while (!signal.aborted) {
    // One controller per connection, so leaving the loop early cancels the call.
    const connection = new AbortController();
    const onAbort = () => connection.abort();
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      notify({ type: "connected", cursor });
      for await (const response of options.openFeed(cursor, connection.signal, cursor === "" && options.fromNow !== true)) {
        const event = response.event;
        if (!event) {
          if (response.cursor !== "" && response.cursor !== cursor) {
            cursor = response.cursor;
            await save();
          }
          continue;
        }
        waitMs = backoff.initialMs;
        authFailures = 0;
        if (recent.has(event.eventId)) {
          notify({ type: "repeat", event });
        } else {
          let check = await checkEventAttestation(event, options.keys.current());
          // A key we do not know: a registry may have rotated its key; reload the keys once and retry.
          if (!check.ok && check.unknownKey && (await options.keys.refresh().catch(() => false))) {
            check = await checkEventAttestation(event, options.keys.current());
          }
          if (check.ok) {
            try {
              await options.act(event, check.claims);
            } catch (error) {
              throw new ActionFailed(event.eventId, error);
            }
            notify({ type: "acted", event, claims: check.claims });
          } else {
            notify({ type: "refused", event, problem: check.problem });
          }
          recent.add(event.eventId);
          handled++;
        }
        if (event.cursor) cursor = event.cursor;
        await save();
        if (options.maxEvents !== undefined && handled >= options.maxEvents) return { handled, cursor };
        if (signal.aborted) break;
      }
      // The gateway ended the stream (it is shutting down): reconnect.
      if (signal.aborted) break;
      throw new ImeifedError(Code.UNAVAILABLE, "FEED_ENDED", "the gateway ended the feed");
    } catch (thrown) {
      if (signal.aborted) break;
      // The manufacturer's own act() failed, or the cursor file could not be written: stop, nothing saved.
      if (!(thrown instanceof ImeifedError)) throw thrown;
      const error = thrown;
      if (FATAL.has(error.code)) throw error;
      if (error.reason === STREAM_EXPIRED) {
        // The feed outlived the token it was opened with: reopen at once with the (renewed) token file. Not a failed authentication.
        notify({ type: "disconnected", error, retryInMs: 0 });
        continue;
      }
      if (error.code === Code.UNAUTHENTICATED && ++authFailures > authRetries) throw error;
      const retryInMs = error.code === Code.UNAUTHENTICATED ? backoff.maxMs : Math.max(waitMs, error.retryAfterMs ?? 0);
      waitMs = Math.min(backoff.maxMs, waitMs * 2);
      notify({ type: "disconnected", error, retryInMs });
      try {
        await sleep(retryInMs, undefined, { signal });
      } catch {
        break;
      }
    } finally {
      signal.removeEventListener("abort", onAbort);
      connection.abort();
    }
  }
  return { handled, cursor };
}
