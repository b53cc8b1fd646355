/**
 * What a handler knows about the call it serves: the method, the incoming
 * metadata, the deadline, a signal that aborts when the caller cancels or the
 * deadline passes, and typed values that interceptors attach (the verified
 * caller, the trace span, ...).
 */
import type { Metadata } from "@grpc/grpc-js";
import type { ImeifedError } from "../errors/index.js";

/** A typed slot in `CallContext.values`; create one per kind of value. */
export interface ContextKey<T> {
  readonly id: symbol;
  readonly defaultValue: T;
}

export function createContextKey<T>(defaultValue: T, description = "value"): ContextKey<T> {
  return { id: Symbol(description), defaultValue };
}

export class ContextValues {
  readonly #values = new Map<symbol, unknown>();
  get<T>(key: ContextKey<T>): T {
    return this.#values.has(key.id) ? (this.#values.get(key.id) as T) : key.defaultValue;
  }
  set<T>(key: ContextKey<T>, value: T): this {
    this.#values.set(key.id, value);
    return this;
  }
}

export interface CallContext {
  /** The service's full name, for example `imeifed.v1.RegistryService`. */
  readonly service: string;
  /** The method's name as in the proto, for example `CheckDevice`. */
  readonly method: string;
  /** `unary`, `server_streaming`, `client_streaming` or `bidi_streaming`. */
  readonly methodKind: "unary" | "server_streaming" | "client_streaming" | "bidi_streaming";
  readonly requestMetadata: Metadata;
  /** Trailing metadata sent with the status (retry delays, ...). */
  readonly responseTrailer: Metadata;
  /** The caller's deadline, if it set one. */
  readonly deadline: Date | undefined;
  /** Aborts when the caller cancels, the deadline passes, or `abort` is called. */
  readonly signal: AbortSignal;
  readonly peer: string;
  readonly values: ContextValues;
  /**
   * Since when (epoch ms) a stream has been waiting for its caller: for its
   * next message, or to read what was sent (the transport to drain);
   * undefined while it waits for neither (busy, or nothing owed). A stream
   * idle limit reads it: a caller awaited this long has gone silent.
   */
  awaitingCallerSince(): number | undefined;
  /**
   * Ends a running call with `error` (an interceptor's verdict after the call
   * began, for example a partner's trust revoked under an open stream):
   * `signal` aborts with it as its reason, and the caller gets its status
   * instead of a normal end, whatever the handler does next.
   */
  abort(error: ImeifedError): void;
}

/** Milliseconds left before the call's deadline (Infinity without one). */
export function remainingMs(ctx: Pick<CallContext, "deadline">, now = Date.now()): number {
  return ctx.deadline === undefined ? Number.POSITIVE_INFINITY : ctx.deadline.getTime() - now;
}
