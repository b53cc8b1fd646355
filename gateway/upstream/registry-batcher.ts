/**
 * Gathers concurrent misses bound for one registry into CheckDevices batches.
 *
 * Why: a grpc-js client spends far more CPU on a call than on a device within
 * one, so one call per device per registry would cap a gateway's lookups per
 * second at its calls per second; batched, that cost is shared by every device
 * in the batch (bench/RESULTS.md).
 *
 * How the window adapts to load: while fewer than `maxInFlight` calls to the
 * registry are in flight, a miss is sent at once (at the end of the current
 * tick, so misses arriving together still travel together): an idle gateway
 * adds no wait. When every slot is busy, misses queue and leave as one batch
 * when a slot frees, when the batch is full, or after `maxWaitMs`, whichever
 * comes first; so the busier the registry, the larger the batches.
 *
 * Concurrent asks for one device by one requester share one upstream item
 * (request coalescing). Each asker keeps its own deadline: when it passes, the
 * asker gets DEADLINE_EXCEEDED for its devices and leaves, and a queued item
 * nobody waits for any more is not sent.
 *
 * A manifest's chunks take the bulk path (`askBulk`) instead: no queue, no
 * coalescing, no promise per device (on a million-item manifest those cost
 * more than the registries' answers), but the same call: breaker, in-flight
 * count, outcome, metrics (`#call`).
 */
import type { DeviceKey } from "../../device/index.js";
import { Code, ImeifedError } from "../../errors/index.js";
import type { DeviceCheck } from "../../gen/imeifed/v1/registry_pb.js";
import type { Actor } from "../../trust/principal.js";
import type { BulkAnswer } from "../federation/bulk-answer.js";
import type { CircuitBreaker } from "./circuit-breaker.js";
import { outcomeOf, type UpstreamOutcome } from "./upstream-outcome.js";

/** Upstream calls are made per requester and purpose: the registry applies its sharing policy to the requester and audits the purpose. */
export interface BatchGroup {
  requester: Actor;
  purpose: string;
}

/** One device's outcome from the registry: its check, or the error of the call that carried it. */
export type BatchResult = UpstreamOutcome<DeviceCheck>;

/** Why a batch left when it did ("bulk": a chunk of the bulk path, which does not queue). */
export type FlushReason = "idle" | "full" | "slot" | "window" | "bulk";

/** How one bulk call ended: the registry's answer (sparse or full, see bulk-answer.ts), or the error that fails every key of it. */
export type BulkOutcome = UpstreamOutcome<BulkAnswer>;

/** Told of every batch sent (tests assert on it; metrics count it). */
export interface FlushEvent {
  reason: FlushReason;
  size: number;
  /** Calls in flight to this registry, this one included. */
  inFlight: number;
  /** How long the batch's oldest member waited in the queue (ms). */
  waitedMs: number;
}

/** Sends one batch upstream; resolves to one DeviceCheck per key, in order. */
export type BatchSender = (keys: DeviceKey[], group: BatchGroup, deadline: Date) => Promise<DeviceCheck[]>;

/** Sends one bulk chunk upstream; resolves to the registry's answer, already checked against the keys (bulk-answer.ts). */
export type BulkSender = (keys: readonly DeviceKey[], group: BatchGroup, deadline: Date) => Promise<BulkAnswer>;

export interface RegistryBatcherOptions {
  /** The most devices one call may carry. */
  limit: number;
  /** Calls in flight before misses queue. */
  maxInFlight: number;
  /** The longest a queued miss waits for a slot. */
  maxWaitMs: number;
  send: BatchSender;
  /** Sends the bulk path's chunks (asking for sparse answers); `send`, read as full answers, when absent. */
  sendBulk?: BulkSender;
  /** The registry's circuit breaker: every call goes through it (an open circuit fails the batch as CIRCUIT_OPEN, without a call). */
  breaker?: Pick<CircuitBreaker, "call">;
  /** Told how each call made ended (metrics). */
  onOutcome?: (outcome: { ok: boolean; error?: ImeifedError; budgetMs: number; elapsedMs: number; size: number }) => void;
  onFlush?: (event: FlushEvent) => void;
}

interface Waiter {
  results: (BatchResult | undefined)[];
  remaining: number;
  done: boolean;
  resolve: (results: BatchResult[]) => void;
  timer: NodeJS.Timeout | undefined;
}

interface Item {
  readonly key: DeviceKey;
  readonly coalesceKey: string;
  /** The latest deadline among its waiters. */
  deadline: number;
  waiters: [Waiter, number][];
  live: number;
  state: "queued" | "sent" | "settled";
  readonly queuedAt: number;
}

interface Queue {
  readonly group: BatchGroup;
  items: Item[];
}

/** The batching upstream path to one registry. */
export class RegistryBatcher {
  readonly #options: RegistryBatcherOptions;
  readonly #pending = new Map<string, Item>();
  readonly #queues = new Map<string, Queue>();
  #inFlight = 0;
  #flushScheduled = false;
  #window: NodeJS.Timeout | undefined;

  constructor(options: RegistryBatcherOptions) {
    this.#options = options;
  }

  /** Calls to the registry in flight. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Devices waiting to be sent. */
  get queued(): number {
    let n = 0;
    for (const q of this.#queues.values()) n += q.items.length;
    return n;
  }

  /** Asks the registry about `keys` for `group`; resolves by `deadline` at the latest, one result per key in order. Never rejects. */
  ask(keys: readonly DeviceKey[], group: BatchGroup, deadline: Date): Promise<BatchResult[]> {
    const deadlineMs = deadline.getTime();
    const now = Date.now();
    if (keys.length === 0) return Promise.resolve([]);
    if (deadlineMs <= now) return Promise.resolve(keys.map(() => deadlineResult()));
    return new Promise<BatchResult[]>((resolve) => {
      const waiter: Waiter = { results: new Array(keys.length), remaining: keys.length, done: false, resolve, timer: undefined };
      const groupKey = `${group.requester.id}\u0000${group.purpose}`;
      let queue: Queue | undefined;
      const added: Item[] = [];
      keys.forEach((key, index) => {
        const coalesceKey = `${group.requester.id}\u0000${key}`;
        let item = this.#pending.get(coalesceKey);
        if (!item) {
          item = { key, coalesceKey, deadline: deadlineMs, waiters: [], live: 0, state: "queued", queuedAt: now };
          this.#pending.set(coalesceKey, item);
          queue ??= this.#queueFor(groupKey, group);
          queue.items.push(item);
        } else if (item.state === "queued") {
          item.deadline = Math.max(item.deadline, deadlineMs);
        }
        item.waiters.push([waiter, index]);
        item.live += 1;
        added.push(item);
      });
      waiter.timer = setTimeout(() => this.#expire(waiter, added), deadlineMs - now);
      if (queue) this.#decide(queue);
    });
  }

  #queueFor(groupKey: string, group: BatchGroup): Queue {
    let queue = this.#queues.get(groupKey);
    if (!queue) {
      queue = { group, items: [] };
      this.#queues.set(groupKey, queue);
    }
    return queue;
  }

  /** New misses arrived in `queue`: send now, or wait for a slot or the window. */
  #decide(queue: Queue): void {
    if (queue.items.length >= this.#options.limit) {
      this.#flush(queue, "full");
      return;
    }
    if (this.#inFlight < this.#options.maxInFlight) {
      if (!this.#flushScheduled) {
        this.#flushScheduled = true;
        // End of the current tick: misses that arrive together travel together, and no wall-clock wait is added.
        queueMicrotask(() => {
          this.#flushScheduled = false;
          this.#drain("idle");
        });
      }
      return;
    }
    this.#armWindow();
  }

  #armWindow(): void {
    if (this.#window || this.#queues.size === 0) return;
    this.#window = setTimeout(() => {
      this.#window = undefined;
      const first = this.#queues.values().next().value;
      if (first) this.#flush(first, "window");
      this.#armWindow();
    }, this.#options.maxWaitMs);
  }

  /** Sends queued misses while slots are free. */
  #drain(reason: FlushReason): void {
    while (this.#inFlight < this.#options.maxInFlight) {
      const first = this.#queues.values().next().value;
      if (!first) break;
      this.#flush(first, reason);
    }
    if (this.#queues.size > 0) this.#armWindow();
  }

  #flush(queue: Queue, reason: FlushReason): void {
    const limit = this.#options.limit;
    const batch: Item[] = [];
    let i = 0;
    for (; i < queue.items.length && batch.length < limit; i++) {
      const item = queue.items[i]!;
      if (item.live > 0) batch.push(item);
      else this.#forget(item);
    }
    queue.items = queue.items.slice(i);
    if (queue.items.length === 0) {
      for (const [k, q] of this.#queues) if (q === queue) this.#queues.delete(k);
    }
    if (batch.length === 0) return;
    for (const item of batch) item.state = "sent";
    const now = Date.now();
    const deadline = batch.reduce((max, item) => Math.max(max, item.deadline), 0);
    const keys = batch.map((item) => item.key);
    void this.#call(keys, queue.group, deadline, reason, now - batch.reduce((min, it) => Math.min(min, it.queuedAt), now), this.#sendChecked).then((outcome) => {
      if (outcome.ok) batch.forEach((item, j) => this.#settle(item, { ok: true, answer: outcome.answer[j]!, answeredAt: outcome.answeredAt }));
      else for (const item of batch) this.#settle(item, outcome);
    });
  }

  /**
   * The one place a call to the registry is made, for queued misses and bulk
   * chunks alike: through the breaker, counted as in flight while it runs,
   * its outcome told to the metrics. Never rejects.
   */
  async #call<K extends readonly DeviceKey[], A>(keys: K, group: BatchGroup, deadline: number, reason: FlushReason, waitedMs: number, send: (keys: K, group: BatchGroup, deadline: Date) => Promise<A>): Promise<UpstreamOutcome<A>> {
    let startedAt = 0;
    const made = (): Promise<A> => {
      startedAt = Date.now();
      this.#inFlight += 1;
      this.#options.onFlush?.({ reason, size: keys.length, inFlight: this.#inFlight, waitedMs });
      return send(keys, group, new Date(deadline));
    };
    const budgetMs = deadline - Date.now();
    const breaker = this.#options.breaker;
    const outcome = await (breaker ? breaker.call(budgetMs, made) : outcomeOf(made));
    if (startedAt === 0) return outcome; // the circuit is open: no call was made
    this.#inFlight -= 1;
    const elapsedMs = (outcome.ok ? outcome.answeredAt : Date.now()) - startedAt;
    this.#options.onOutcome?.(outcome.ok ? { ok: true, budgetMs, elapsedMs, size: keys.length } : { ok: false, error: outcome.error, budgetMs, elapsedMs, size: keys.length });
    if (this.#queues.size > 0) this.#drain("slot");
    return outcome;
  }

  /**
   * The bulk path (a manifest's chunk): `keys` go upstream at once, in calls
   * of at most `limit` devices, without coalescing or a promise per device.
   * Each call's outcome is handed to `settle` with the offset of its first
   * key, as it arrives. Bulk calls count as in flight, so Lookup misses queue
   * behind them, but they do not wait for a slot: the caller bounds how many
   * chunks it keeps in flight. Resolves when every call has ended; never rejects.
   */
  async askBulk(keys: readonly DeviceKey[], group: BatchGroup, deadline: Date, settle: (start: number, count: number, outcome: BulkOutcome) => void): Promise<void> {
    const deadlineMs = deadline.getTime();
    if (keys.length === 0) return;
    if (deadlineMs <= Date.now()) {
      settle(0, keys.length, deadlineResult());
      return;
    }
    const limit = this.#options.limit;
    const calls: Promise<void>[] = [];
    for (let start = 0; start < keys.length; start += limit) {
      // A chunk within the limit goes as it is: every registry then asks with the same list (encoded once).
      const chunk = keys.length <= limit ? keys : keys.slice(start, start + limit);
      calls.push(this.#call(chunk, group, deadlineMs, "bulk", 0, this.#sendBulk).then((outcome) => settle(start, chunk.length, outcome)));
    }
    await Promise.all(calls);
  }

  /** The interactive path's send: one check per key, or the call fails as a whole. */
  readonly #sendChecked = async (keys: DeviceKey[], group: BatchGroup, deadline: Date): Promise<DeviceCheck[]> => {
    const checks = await this.#options.send(keys, group, deadline);
    if (checks.length !== keys.length) {
      throw new ImeifedError(Code.UNAVAILABLE, "BATCH_MISMATCH", `the registry answered ${checks.length} checks for ${keys.length} devices`);
    }
    return checks;
  };

  /** The bulk path's send: `sendBulk`, or `send` read as a full answer. */
  readonly #sendBulk = (keys: readonly DeviceKey[], group: BatchGroup, deadline: Date): Promise<BulkAnswer> =>
    this.#options.sendBulk ? this.#options.sendBulk(keys, group, deadline) : this.#sendChecked([...keys], group, deadline).then((checks) => ({ checks }));

  #forget(item: Item): void {
    item.state = "settled";
    if (this.#pending.get(item.coalesceKey) === item) this.#pending.delete(item.coalesceKey);
  }

  #settle(item: Item, result: BatchResult): void {
    this.#forget(item);
    for (const [waiter, index] of item.waiters) {
      if (waiter.done || waiter.results[index] !== undefined) continue;
      waiter.results[index] = result;
      waiter.remaining -= 1;
      if (waiter.remaining === 0) this.#finish(waiter);
    }
    item.waiters = [];
  }

  #finish(waiter: Waiter): void {
    waiter.done = true;
    clearTimeout(waiter.timer);
    waiter.resolve(waiter.results as BatchResult[]);
  }

  /** The waiter's deadline passed: it leaves with DEADLINE_EXCEEDED for what is still missing; the batch goes on for the others. */
  #expire(waiter: Waiter, items: Item[]): void {
    if (waiter.done) return;
    for (let i = 0; i < waiter.results.length; i++) waiter.results[i] ??= deadlineResult();
    for (const item of items) {
      if (item.state !== "settled") item.live -= 1;
    }
    this.#finish(waiter);
  }

  /** Ends every wait (gateway shutdown): queued misses are answered UNAVAILABLE. */
  close(): void {
    clearTimeout(this.#window);
    const error = new ImeifedError(Code.UNAVAILABLE, "SHUTTING_DOWN", "the gateway is shutting down");
    for (const queue of this.#queues.values()) for (const item of queue.items) this.#settle(item, { ok: false, error });
    this.#queues.clear();
  }
}

function deadlineResult(): { ok: false; error: ImeifedError } {
  return { ok: false, error: new ImeifedError(Code.DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED", "the registry did not answer before the deadline") };
}
