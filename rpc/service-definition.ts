/**
 * Builds grpc-js service definitions from protobuf-es service descriptors, so
 * the generated code is the only description of the wire format.
 */
import { fromBinary, toBinary, create, isMessage, type DescMessage, type DescMethod, type DescService, type MessageShape } from "@bufbuild/protobuf";
import type { MethodDefinition, ServiceDefinition } from "@grpc/grpc-js";
import { requestDeserializer } from "./request-decoding.js";
import { codecOf, type WireCodecs } from "./wire-codecs.js";
import type { RequestReads } from "./handler-types.js";

/** `/<package>.<Service>/<Method>`, as gRPC puts it on the wire. */
export function methodPath(method: DescMethod): string {
  return `/${method.parent.typeName}/${method.name}`;
}

/** Serializes a message or an init object of `schema`. */
export function serializerFor<D extends DescMessage>(schema: D): (value: unknown) => Buffer {
  return (value) => {
    const message = isMessage(value, schema) ? value : create(schema, value as never);
    const bytes = toBinary(schema, message as MessageShape<D>);
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  };
}

export function deserializerFor<D extends DescMessage>(schema: D): (bytes: Buffer) => MessageShape<D> {
  return (bytes) => fromBinary(schema, bytes);
}

/** A method's grpc-js definition: its hand codecs (wire-codecs.ts) where given, protobuf-es's otherwise. */
export function methodDefinition(method: DescMethod, codecs?: object): MethodDefinition<unknown, unknown> {
  const codec = codecOf(codecs, method);
  return {
    path: methodPath(method),
    requestStream: method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
    responseStream: method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
    requestSerialize: serializerFor(method.input),
    // Every request is decoded and its text checked in one place (request-decoding.ts).
    requestDeserialize: requestDeserializer(method.input, codec?.request?.read ?? codec?.request?.decode ?? deserializerFor(method.input)),
    responseSerialize: (codec?.response?.encode as ((value: unknown) => Buffer) | undefined) ?? serializerFor(method.output),
    responseDeserialize: deserializerFor(method.output),
    originalName: method.localName,
  };
}

export function serviceDefinition<S extends DescService>(service: S, codecs?: WireCodecs<S, RequestReads<S>>): ServiceDefinition {
  // The type refuses a misspelt method; this refuses one that came round it (a cast, plain JS).
  for (const name of Object.keys(codecs ?? {})) {
    if (!service.methods.some((m) => m.localName === name)) throw new Error(`${service.typeName} has no method ${name} for a hand-written codec`);
  }
  const definition: Record<string, MethodDefinition<unknown, unknown>> = {};
  for (const method of service.methods) definition[method.name] = methodDefinition(method, codecs);
  return definition as ServiceDefinition;
}
