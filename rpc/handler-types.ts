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

export type HandlerFor<M extends DescMethod> = M["methodKind"] extends "unary"
  ? (request: In<M>, ctx: CallContext) => Promise<OutInit<M>>
  : M["methodKind"] extends "server_streaming"
    ? (request: In<M>, ctx: CallContext) => AsyncIterable<OutInit<M>>
    : M["methodKind"] extends "client_streaming"
      ? (requests: AsyncIterable<In<M>>, ctx: CallContext) => Promise<OutInit<M>>
      : (requests: AsyncIterable<In<M>>, ctx: CallContext) => AsyncIterable<OutInit<M>>;

/** Every method of the service, by its local (camelCase) name. */
export type ServiceImpl<S extends DescService> = {
  [K in keyof S["method"]]: S["method"][K] extends DescMethod ? HandlerFor<S["method"][K]> : never;
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
