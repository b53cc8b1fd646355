/**
 * A registry link's CheckDevicesStreams: one per requester, opened on first
 * use, replaced when it broke or when the minter renewed the requester's
 * token, retired after a while unused, and never more than `maxStreams` (the
 * least recently used goes first), so a gateway serving many partners holds a
 * bounded number of streams on each registry.
 */
import type { Client } from "../../rpc/index.js";
import type { RegistryService } from "../../gen/imeifed/v1/registry_pb.js";
import type { Actor } from "../../trust/principal.js";
import { CheckStream } from "./check-stream.js";

export interface CheckStreamPoolOptions {
  /** A stream unused this long is retired (default 30 s). */
  idleMs?: number;
  /** Streams open at once (default 64). */
  maxStreams?: number;
  /** The clock idleness is read by (epoch ms; tests move it instead of sleeping). */
  now?: () => number;
}

/** The defaults, which a registry's admission limits must leave room for (services/registry/registry-config.ts). */
export const CHECK_STREAM_POOL_DEFAULTS = { idleMs: 30_000, maxStreams: 64 } as const;

export class CheckStreamPool {
  readonly #client: () => Client<typeof RegistryService>;
  readonly #idleMs: number;
  readonly #maxStreams: number;
  readonly #now: () => number;
  /** By requester, least recently used first (a Map keeps insertion order; use re-inserts). */
  readonly #streams = new Map<string, CheckStream>();
  readonly #sweeper: NodeJS.Timeout;

  readonly #serverAddress: string;

  /** `serverAddress`: the registry's address (named on message spans). */
  constructor(client: () => Client<typeof RegistryService>, options: CheckStreamPoolOptions & { serverAddress?: string } = {}) {
    this.#serverAddress = options.serverAddress ?? "";
    this.#client = client;
    this.#idleMs = options.idleMs ?? CHECK_STREAM_POOL_DEFAULTS.idleMs;
    this.#maxStreams = options.maxStreams ?? CHECK_STREAM_POOL_DEFAULTS.maxStreams;
    this.#now = options.now ?? Date.now;
    this.#sweeper = setInterval(() => this.retireIdle(), Math.max(1_000, this.#idleMs / 3));
    this.#sweeper.unref();
  }

  /** Streams held (open or draining). */
  get size(): number {
    return this.#streams.size;
  }

  /** The open stream of `requester` under `token`, opening one when there is none or the held one is stale. */
  streamFor(requester: Actor, token: string): CheckStream {
    const key = `${requester.kind}\u0000${requester.country}\u0000${requester.id}`;
    let stream = this.#streams.get(key);
    if (stream) this.#streams.delete(key);
    if (!stream || !stream.open || stream.token !== token) {
      stream?.retire();
      stream = new CheckStream(this.#client(), token, this.#serverAddress, this.#now);
      this.#evictBeyond(this.#maxStreams - 1);
    }
    this.#streams.set(key, stream);
    return stream;
  }

  /** Retires every stream. */
  close(): void {
    clearInterval(this.#sweeper);
    for (const stream of this.#streams.values()) stream.retire();
    this.#streams.clear();
  }

  #evictBeyond(max: number): void {
    for (const [key, stream] of this.#streams) {
      if (this.#streams.size <= max) return;
      stream.retire();
      this.#streams.delete(key);
    }
  }

  /** Retires the streams unused for `idleMs` with nothing waiting, and any that closed; a timer runs it every `idleMs / 3` (at least 1 s). */
  retireIdle(): void {
    const idleSince = this.#now() - this.#idleMs;
    for (const [key, stream] of this.#streams) {
      if (stream.open && (stream.lastUsedAt > idleSince || stream.waiting > 0)) continue;
      stream.retire();
      this.#streams.delete(key);
    }
  }
}
