/**
 * Admission: how much of a server one principal, and every caller together,
 * may hold at once. Unary calls being served and open streams are counted
 * apart (a lookup holds a call for milliseconds, a screening a stream for
 * minutes). Past a limit a call is refused at once with RESOURCE_EXHAUSTED
 * and a `retry-after-ms` hint, never queued: a queue in front of a saturated
 * server only makes every caller wait behind the whole backlog, and a refusal
 * costs the server a map lookup, where a queued call costs memory and, later,
 * a turn of the event loop it then spends on an answer nobody waits for.
 *
 * The same bound at the HTTP/2 layer, where a call costs the server before
 * any of this code runs: `maxConcurrentStreamsPerConnection`, advertised in
 * every connection's SETTINGS (grpc-js `grpc.max_concurrent_streams`), and
 * `maxConcurrentStreams`, shared between the connections
 * (rpc/stream-budget.ts). A client cannot have more calls open than its
 * share, and a stream opened past it is reset (REFUSED_STREAM).
 *
 * A stream whose caller, for `streamIdleMs`, neither sends the message the
 * server waits for nor reads what the server sent ends with
 * DEADLINE_EXCEEDED `STREAM_IDLE`: a silent stream holds a slot, and an
 * unread one its buffers, that another caller could use. A watch that simply
 * has nothing to send is not idle. (How long a stream may live at all is its
 * token's business: trust/authenticator.ts.)
 *
 * Calls are counted against the principal that signed their token, as quotas
 * are: a registry sees a gateway as one principal, whoever the gateway asks
 * for. Calls without a verified caller (public methods) are counted by client
 * address. Put the interceptor right after the authenticator.
 */
import { z } from "zod";
import type { ChannelOptions } from "@grpc/grpc-js";
import { Code, ImeifedError, type Reason } from "../errors/index.js";
import type { CallContext, ServerInterceptor } from "../rpc/index.js";
import type { StreamBudget } from "../rpc/stream-budget.js";
import { peerAddress } from "../rpc/peer-address.js";
import { CALLER } from "./principal.js";

/** The limits, every field required (a server's config schema supplies its own defaults). */
export interface AdmissionLimits {
  /** HTTP/2 streams (calls of any shape) one connection may have open at once: the SETTINGS_MAX_CONCURRENT_STREAMS this server advertises. */
  maxConcurrentStreamsPerConnection: number;
  /** HTTP/2 streams all connections together may have open; past it each connection's share shrinks (rpc/stream-budget.ts). */
  maxConcurrentStreams: number;
  /** Unary calls being served at once, every caller together. */
  maxInFlight: number;
  /** Unary calls being served at once for one principal. */
  maxInFlightPerPrincipal: number;
  /** Open streams (client, server and bidi streaming calls), every caller together. */
  maxStreams: number;
  /** Open streams of one principal. */
  maxStreamsPerPrincipal: number;
  /** A stream whose caller, for this long, neither sends what the server waits for nor reads what it sent, ends; 0: never. */
  streamIdleMs: number;
  /** The `retry-after-ms` a refusal carries: a hint, since how long the overload lasts is not known. */
  retryAfterMs: number;
}

const count = z.number().int().min(1).max(2 ** 31 - 1);

/**
 * The `admission` section of a server's config, with that server's
 * defaults: each server documents its own, and why, where it declares them.
 */
export function admissionConfigSchema(defaults: AdmissionLimits) {
  return z
    .object({
      maxConcurrentStreamsPerConnection: count.default(defaults.maxConcurrentStreamsPerConnection),
      maxConcurrentStreams: count.default(defaults.maxConcurrentStreams),
      maxInFlight: count.default(defaults.maxInFlight),
      maxInFlightPerPrincipal: count.default(defaults.maxInFlightPerPrincipal),
      maxStreams: count.default(defaults.maxStreams),
      maxStreamsPerPrincipal: count.default(defaults.maxStreamsPerPrincipal),
      streamIdleMs: z.number().int().min(0).default(defaults.streamIdleMs),
      retryAfterMs: count.default(defaults.retryAfterMs),
    })
    .strict()
    .default({});
}

/** What one principal holds now. */
interface Held {
  calls: number;
  streams: number;
}

/** Stable reasons of admission's refusals and endings. */
export const ADMISSION_REASON = {
  /** The principal already has its most unary calls in flight. */
  callsInFlight: "CALLS_IN_FLIGHT",
  /** The principal already has its most streams open. */
  streamsOpen: "STREAMS_OPEN",
  /** The server as a whole is at its limit of calls, or of streams. */
  serverBusy: "SERVER_BUSY",
  /** A stream's caller neither sent nor read for `streamIdleMs`. */
  streamIdle: "STREAM_IDLE",
} as const;

/** The counts of a server's admitted calls and streams, and the interceptor that keeps them. */
export class Admission {
  readonly limits: Readonly<AdmissionLimits>;
  /** By principal id (or `peer:<address>`); an entry lives only while it holds something, so the map is bounded by the limits. */
  readonly #held = new Map<string, Held>();
  #calls = 0;
  #streams = 0;

  constructor(limits: AdmissionLimits) {
    this.limits = { ...limits };
  }

  /** The grpc-js server options that put `maxConcurrentStreamsPerConnection` into every connection's SETTINGS. */
  get serverOptions(): ChannelOptions {
    return { "grpc.max_concurrent_streams": this.limits.maxConcurrentStreamsPerConnection };
  }

  /** The HTTP/2 stream budget to share between the server's connections (rpc/stream-budget.ts's shareStreamBudget). */
  get streamBudget(): StreamBudget {
    return { perConnection: this.limits.maxConcurrentStreamsPerConnection, total: this.limits.maxConcurrentStreams };
  }

  /** Unary calls and streams admitted and not yet finished. */
  get load(): { calls: number; streams: number } {
    return { calls: this.#calls, streams: this.#streams };
  }

  /**
   * Counts one call (or stream) of `key` in and returns the function that
   * counts it out (safe to call twice), or throws RESOURCE_EXHAUSTED with
   * `retryAfterMs` when a limit is reached.
   */
  admit(key: string, stream: boolean): () => void {
    const held = this.#held.get(key);
    const { limits } = this;
    if (stream) {
      if ((held?.streams ?? 0) >= limits.maxStreamsPerPrincipal) throw this.#refusal(ADMISSION_REASON.streamsOpen, `${key} already has ${limits.maxStreamsPerPrincipal} streams open, the most this server keeps for one partner; end one or retry later`);
      if (this.#streams >= limits.maxStreams) throw this.#refusal(ADMISSION_REASON.serverBusy, `this server already has ${limits.maxStreams} streams open, its limit; retry later`);
    } else {
      if ((held?.calls ?? 0) >= limits.maxInFlightPerPrincipal) throw this.#refusal(ADMISSION_REASON.callsInFlight, `${key} already has ${limits.maxInFlightPerPrincipal} calls in flight, the most this server serves at once for one partner; send fewer at once`);
      if (this.#calls >= limits.maxInFlight) throw this.#refusal(ADMISSION_REASON.serverBusy, `this server is serving ${limits.maxInFlight} calls, its limit; retry later`);
    }
    const entry = held ?? { calls: 0, streams: 0 };
    if (!held) this.#held.set(key, entry);
    if (stream) {
      entry.streams++;
      this.#streams++;
    } else {
      entry.calls++;
      this.#calls++;
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (stream) {
        entry.streams--;
        this.#streams--;
      } else {
        entry.calls--;
        this.#calls--;
      }
      if (entry.calls === 0 && entry.streams === 0 && this.#held.get(key) === entry) this.#held.delete(key);
    };
  }

  /** The interceptor: admits each call against its caller's and the server's limits, and ends idle streams. */
  interceptor(): ServerInterceptor {
    return async (ctx, next) => {
      const caller = ctx.values.get(CALLER);
      const release = this.admit(caller ? caller.principal.id : `peer:${peerAddress(ctx.peer)}`, ctx.methodKind !== "unary");
      const stopIdleWatch = ctx.methodKind === "unary" ? undefined : this.#endWhenIdle(ctx);
      try {
        return await next();
      } finally {
        release();
        stopIdleWatch?.();
      }
    };
  }

  #refusal(reason: Reason, message: string): ImeifedError {
    return new ImeifedError(Code.RESOURCE_EXHAUSTED, reason, `${message} (retry in ${this.limits.retryAfterMs} ms)`, { retryAfterMs: this.limits.retryAfterMs });
  }

  /** Ends the stream once it has waited `streamIdleMs` for its caller; returns what stops watching. */
  #endWhenIdle(ctx: CallContext): (() => void) | undefined {
    const idleMs = this.limits.streamIdleMs;
    if (idleMs <= 0) return undefined;
    let timer: NodeJS.Timeout;
    const check = () => {
      const since = ctx.awaitingCallerSince();
      const now = Date.now();
      if (since !== undefined && now - since >= idleMs) {
        ctx.abort(new ImeifedError(Code.DEADLINE_EXCEEDED, ADMISSION_REASON.streamIdle, `the server waited ${idleMs} ms, its limit, for this stream's caller to send its next message or read the last ones; send and read within that, or end the stream when done`));
        return;
      }
      // One timer per stream, re-armed for when the current wait would reach the limit.
      timer = setTimeout(check, since === undefined ? idleMs : since + idleMs - now);
      timer.unref();
    };
    timer = setTimeout(check, idleMs);
    timer.unref();
    return () => clearTimeout(timer);
  }
}
