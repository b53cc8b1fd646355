/**
 * Keeps appends off the call path: entries wait in memory and are written
 * together every `flushIntervalMs` or as soon as `maxBatch` are waiting, in
 * one small transaction each. A failed write keeps its entries (in order) and
 * is retried; `close()` writes everything before it returns.
 *
 * What a crash can lose is what waits here: normally the entries of the last
 * `flushIntervalMs` (a full batch is written at once), never more than
 * `maxPending`, past which `add` refuses. A call that must not be answered
 * before its entry is on disk uses `addDurably`, which writes at once and
 * resolves only when the entry's batch has committed.
 */
import { Code, ImeifedError } from "../../errors/index.js";
import type { AuditEntry } from "./audit-entry.js";

/** Tuning of the append path; every field has a default. */
export interface AuditBufferOptions {
  /** Longest an entry waits before its write begins (default 50 ms: what a crash loses of questions is that short a moment; long enough to batch). */
  readonly flushIntervalMs?: number;
  /** Entries per transaction; reaching it flushes at once (default 500). */
  readonly maxBatch?: number;
  /** Unwritten entries (waiting or being written) past which `add` refuses: the most a crash can lose (default 10,000: seconds of a busy server's questions, a few MB). */
  readonly maxPending?: number;
  /** Delay before retrying a failed write (default 1,000 ms). */
  readonly retryDelayMs?: number;
  /** Told about every failed background write (default: one JSON line on stderr). */
  readonly onError?: (error: unknown) => void;
}

/**
 * Writes one batch, in order, in one transaction: all or nothing. `durable`
 * is true when an `addDurably` caller waits on the batch: its commit must
 * then survive a power cut, not only a crashed process.
 */
export type AuditBatchWriter = (entries: readonly AuditEntry[], batch: { readonly durable: boolean }) => Promise<void>;

/** An `addDurably` caller: settled once the first `upTo` entries ever added are written (or a write fails). */
interface DurableWaiter {
  readonly upTo: number;
  readonly resolve: () => void;
  readonly reject: (error: unknown) => void;
}

/** The queue between the interceptor and the store. */
export class AuditBuffer {
  readonly #write: AuditBatchWriter;
  readonly #flushIntervalMs: number;
  readonly #maxBatch: number;
  readonly #maxPending: number;
  readonly #retryDelayMs: number;
  readonly #onError: (error: unknown) => void;
  #pending: AuditEntry[] = [];
  /** Entries ever added, and of those the ones written: the oldest `added - written` are `#pending` (in flight or waiting). */
  #added = 0;
  #written = 0;
  /** `addDurably` callers, each waiting until `#written` reaches its entry. */
  #waiters: DurableWaiter[] = [];
  #timer: NodeJS.Timeout | undefined;
  #draining: Promise<void> | undefined;
  #closed = false;

  constructor(write: AuditBatchWriter, options: AuditBufferOptions = {}) {
    this.#write = write;
    this.#flushIntervalMs = options.flushIntervalMs ?? 50;
    this.#maxBatch = options.maxBatch ?? 500;
    this.#maxPending = options.maxPending ?? 10_000;
    this.#retryDelayMs = options.retryDelayMs ?? 1_000;
    this.#onError =
      options.onError ?? ((error) => console.error(JSON.stringify({ level: "error", msg: "audit write failed; entries kept and retried", error: String((error as Error)?.message ?? error) })));
  }

  /** Entries waiting to be written. */
  get pending(): number {
    return this.#pending.length;
  }

  /** Queues an entry. */
  add(entry: AuditEntry): void {
    if (this.#closed) throw new Error("the audit log is closed");
    // Counted with the batch being written: all of them are what a crash would lose.
    if (this.#added - this.#written >= this.#maxPending) {
      throw new ImeifedError(Code.UNAVAILABLE, "AUDIT_UNAVAILABLE", "the audit log cannot record this call right now; retry later", { retryAfterMs: this.#retryDelayMs });
    }
    this.#pending.push(entry);
    this.#added += 1;
    if (this.#pending.length >= this.#maxBatch) this.#schedule(0);
    else this.#schedule(this.#flushIntervalMs);
  }

  /**
   * Queues an entry, writes it at once (with whatever else waits) and
   * resolves once it is committed. Rejects with UNAVAILABLE if that write
   * fails: the entry stays queued and is retried, but the caller must not
   * answer as if it were recorded.
   */
  addDurably(entry: AuditEntry): Promise<void> {
    this.add(entry);
    const upTo = this.#added;
    const written = new Promise<void>((resolve, reject) => this.#waiters.push({ upTo, resolve, reject }));
    this.#schedule(0);
    return written;
  }

  #schedule(delayMs: number): void {
    if (this.#timer !== undefined) {
      if (delayMs > 0) return;
      clearTimeout(this.#timer);
    }
    // Unref'd: an idle log must not keep a process alive; clean shutdown calls close().
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.flush().catch((error: unknown) => {
        this.#onError(error);
        if (!this.#closed && this.#pending.length > 0) this.#schedule(this.#retryDelayMs);
      });
    }, delayMs);
    this.#timer.unref();
  }

  /** Writes everything queued; rejects (keeping the entries) when the store fails. */
  flush(): Promise<void> {
    this.#draining ??= this.#drain().finally(() => {
      this.#draining = undefined;
    });
    return this.#draining;
  }

  async #drain(): Promise<void> {
    while (this.#pending.length > 0) {
      const batch = this.#pending.splice(0, this.#maxBatch);
      try {
        const end = this.#written + batch.length;
        await this.#write(batch, { durable: this.#waiters.some((w) => w.upTo <= end) });
      } catch (error) {
        this.#pending.unshift(...batch);
        this.#settleWaiters(error);
        throw error;
      }
      this.#written += batch.length;
      this.#settleWaiters();
    }
  }

  /** Resolves the waiters whose entries are written; on a failed write, rejects all the others. */
  #settleWaiters(failure?: unknown): void {
    if (this.#waiters.length === 0) return;
    const still: DurableWaiter[] = [];
    for (const waiter of this.#waiters) {
      if (waiter.upTo <= this.#written) waiter.resolve();
      else if (failure !== undefined) {
        waiter.reject(new ImeifedError(Code.UNAVAILABLE, "AUDIT_UNAVAILABLE", "the audit log cannot record this call right now; retry later", { retryAfterMs: this.#retryDelayMs, cause: failure }));
      } else still.push(waiter);
    }
    this.#waiters = still;
  }

  /** Stops accepting entries and writes the rest; rejects if they cannot be written. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    // A background flush may be running: wait for it, then write what is left.
    await this.#draining?.catch(() => undefined);
    await this.flush();
  }
}
