/**
 * Waiting in tests for something that happens on another socket, process or
 * timer: poll a condition until it holds, with a bound, and fail naming what
 * was awaited. One home, so every test waits the same way.
 */
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";

export interface PollOptions {
  /** How long to keep trying before failing (default 5 s). */
  timeoutMs?: number;
  /** Pause between tries (default 10 ms). */
  intervalMs?: number;
}

/** Resolves to the first value `probe` gives that is not undefined; fails after `timeoutMs`, naming `what`. */
export async function waitFor<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, options: PollOptions = {}): Promise<T> {
  const { timeoutMs = 5_000, intervalMs = 10 } = options;
  const until = Date.now() + timeoutMs;
  for (;;) {
    const found = await probe();
    if (found !== undefined) return found;
    if (Date.now() > until) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(intervalMs);
  }
}

/** Resolves once `condition` holds; fails after `timeoutMs`, naming `what`. */
export async function eventually(what: string, condition: () => boolean | Promise<boolean>, options: PollOptions = {}): Promise<void> {
  await waitFor(what, async () => ((await condition()) ? true : undefined), options);
}

/** Polls until `read` returns `want`; resolves to the milliseconds it took, or fails after `limitMs` with the last value read. */
export async function within(limitMs: number, read: () => Promise<string>, want: string): Promise<number> {
  const started = Date.now();
  let last = "";
  while (Date.now() - started <= limitMs) {
    last = await read();
    if (last === want) return Date.now() - started;
    await sleep(20);
  }
  assert.fail(`still ${last} after ${limitMs} ms, wanted ${want}`);
}
