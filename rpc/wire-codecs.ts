/**
 * Hand-written wire codecs of chosen methods, for the hot paths where
 * protobuf-es's general code costs too much. One shape on both sides: a
 * server uses a method's `request.decode` and `response.encode`, a client its
 * `request.encode` and `response.decode`; whatever a method leaves out is
 * protobuf-es's own. Each must equal protobuf-es (`fromBinary`,
 * `toBinary(create(...))`), errors included, which tests check over generated
 * messages; `npm run bench -- codecs` measures each against it, and a codec
 * that does not beat it by more than the run-to-run spread is deleted.
 *
 * A request decoder may apply the contract's text rule itself (and mark what
 * it checked with contract/'s `markTextChecked`), refusing exactly what the
 * rule would.
 */
import type { DescMethod, DescService, MessageInitShape, MessageShape } from "@bufbuild/protobuf";
import type { RequestReads } from "./handler-types.js";

/** How one message type travels, where a hand codec replaces protobuf-es's. */
export interface MessageCodec<D extends DescMethod["input"]> {
  /** Bytes equal to `toBinary(schema, create(schema, value))`. */
  readonly encode?: (value: MessageShape<D> | MessageInitShape<D>) => Buffer;
  /** A message equal to `fromBinary(schema, bytes)`; throws where it throws. */
  readonly decode?: (bytes: Buffer) => MessageShape<D>;
}

/** A method's hand codecs: of its request, its response, or both. */
export interface MethodCodec<M extends DescMethod> {
  readonly request?: MessageCodec<M["input"]>;
  readonly response?: MessageCodec<M["output"]>;
}

/**
 * A request reader: reads a method's request bytes as a type of the
 * server's own rather than the generated message (a screening's items by
 * position, without an object per item). It refuses exactly what
 * `fromBinary` and the contract's text rule would refuse, with their errors,
 * applying the rule itself (and marking its result with `markTextChecked`).
 */
export interface RequestReader<M extends DescMethod, T> {
  readonly request: { readonly read: (bytes: Buffer) => T; readonly encode?: MessageCodec<M["input"]>["encode"] };
  readonly response?: MessageCodec<M["output"]>;
}

/**
 * Hand codecs by method local name (`checkDevices`); a misspelt method is a
 * compile error. A method named in `R` (see `RequestReads`) must have its
 * request reader, so its handler never receives anything but what it reads.
 */
export type WireCodecs<S extends DescService, R extends RequestReads<S> = {}> = {
  readonly [K in Exclude<keyof S["method"], keyof R>]?: S["method"][K] extends DescMethod ? MethodCodec<S["method"][K]> : never;
} & {
  readonly [K in keyof R & keyof S["method"]]: S["method"][K] extends DescMethod ? RequestReader<S["method"][K], R[K]> : never;
};

/** A method's codec of any service, as the adapters read it. */
export interface AnyMethodCodec {
  readonly request?: { readonly encode?: (value: never) => Buffer; readonly decode?: (bytes: Buffer) => unknown; readonly read?: (bytes: Buffer) => unknown };
  readonly response?: { readonly encode?: (value: never) => Buffer; readonly decode?: (bytes: Buffer) => unknown };
}

/** The codec given for `method`, if any. */
export function codecOf(codecs: object | undefined, method: DescMethod): AnyMethodCodec | undefined {
  return (codecs as Readonly<Record<string, AnyMethodCodec | undefined>> | undefined)?.[method.localName];
}
