/**
 * Handler and client signatures derived from a generated service descriptor,
 * so a missing or misspelled method is a compile error.
 */
import type { DescMethod, DescService, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import type { CallContext } from "./context.js";

type In<M extends DescMethod> = MessageShape<M["input"]>;
type Out<M extends DescMethod> = MessageShape<M["output"]>;
type OutInit<M extends DescMethod> = MessageInitShape<M["output"]>;
type InInit<M extends DescMethod> = MessageInitShape<M["input"]>;

/** A method's handler; `Req`: what it receives for each request, the generated message unless a request reader (wire-codecs.ts) reads it as something else. */
export type HandlerFor<M extends DescMethod, Req = In<M>> = M["methodKind"] extends "unary"
  ? (request: Req, ctx: CallContext) => Promise<OutInit<M>>
  : M["methodKind"] extends "server_streaming"
    ? (request: Req, ctx: CallContext) => AsyncIterable<OutInit<M>>
    : M["methodKind"] extends "client_streaming"
      ? (requests: AsyncIterable<Req>, ctx: CallContext) => Promise<OutInit<M>>
      : (requests: AsyncIterable<Req>, ctx: CallContext) => AsyncIterable<OutInit<M>>;

/** The methods whose requests a service's request readers read as types of their own, by local name (e.g. `{ screen: ScreenRequestRead }`). */
export type RequestReads<S extends DescService> = { readonly [K in keyof S["method"]]?: unknown };

/** The request type of method `K`: its reader's type where `R` names one, the generated message otherwise. */
export type RequestOf<S extends DescService, K extends keyof S["method"], R extends RequestReads<S> = {}> = K extends keyof R ? R[K] : S["method"][K] extends DescMethod ? In<S["method"][K]> : never;

/** Every method of the service, by its local (camelCase) name. */
export type ServiceImpl<S extends DescService, R extends RequestReads<S> = {}> = {
  [K in keyof S["method"]]: S["method"][K] extends DescMethod ? HandlerFor<S["method"][K], RequestOf<S, K, R>> : never;
};

export interface CallOptions {
  /** Absolute deadline, or milliseconds from now. */
  deadline?: Date | number;
  /** Extra request metadata (for example `authorization`). */
  metadata?: Record<string, string>;
  /** Aborting it cancels the call. */
  signal?: AbortSignal;
}

export type ClientMethodFor<M extends DescMethod> = M["methodKind"] extends "unary"
  ? (request: InInit<M>, options?: CallOptions) => Promise<Out<M>>
  : M["methodKind"] extends "server_streaming"
    ? (request: InInit<M>, options?: CallOptions) => AsyncIterable<Out<M>>
    : M["methodKind"] extends "client_streaming"
      ? (requests: AsyncIterable<InInit<M>>, options?: CallOptions) => Promise<Out<M>>
      : (requests: AsyncIterable<InInit<M>>, options?: CallOptions) => AsyncIterable<Out<M>>;

export type Client<S extends DescService> = {
  [K in keyof S["method"]]: S["method"][K] extends DescMethod ? ClientMethodFor<S["method"][K]> : never;
} & {
  /** Closes the channel. */
  close(): void;
};
