/**
 * Builds grpc-js service definitions from protobuf-es service descriptors, so
 * the generated code is the only description of the wire format.
 */
import { fromBinary, toBinary, create, isMessage, type DescMessage, type DescMethod, type DescService, type MessageShape } from "@bufbuild/protobuf";
import type { MethodDefinition, ServiceDefinition } from "@grpc/grpc-js";
import { requestDeserializer } from "./request-decoding.js";

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

/**
 * Hand-written response serializers and request decoders of chosen methods,
 * by method local name, for hot paths where protobuf-es's general code costs
 * too much (a registry's CheckDevices). A serializer must return exactly what
 * `serializerFor` would, a decoder what `deserializerFor` would. A decoder may
 * apply the contract's text rule itself (and mark what it checked with
 * contract/'s TEXT_CHECKED), refusing exactly what the rule would.
 */
export interface MethodCodecs {
  readonly serializers?: Readonly<Record<string, (value: unknown) => Buffer>>;
  readonly deserializers?: Readonly<Record<string, (bytes: Buffer) => unknown>>;
}

export function methodDefinition(method: DescMethod, codecs: MethodCodecs = {}): MethodDefinition<unknown, unknown> {
  return {
    path: methodPath(method),
    requestStream: method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
    responseStream: method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
    requestSerialize: serializerFor(method.input),
    // Every request is decoded and its text checked in one place (request-decoding.ts).
    requestDeserialize: requestDeserializer(method.input, codecs.deserializers?.[method.localName] ?? deserializerFor(method.input)),
    responseSerialize: codecs.serializers?.[method.localName] ?? serializerFor(method.output),
    responseDeserialize: deserializerFor(method.output),
    originalName: method.localName,
  };
}

export function serviceDefinition(service: DescService, codecs: MethodCodecs = {}): ServiceDefinition {
  for (const name of [...Object.keys(codecs.serializers ?? {}), ...Object.keys(codecs.deserializers ?? {})]) {
    if (!service.methods.some((m) => m.localName === name)) throw new Error(`${service.typeName} has no method ${name} for a hand-written codec`);
  }
  const definition: Record<string, MethodDefinition<unknown, unknown>> = {};
  for (const method of service.methods) definition[method.name] = methodDefinition(method, codecs);
  return definition as ServiceDefinition;
}
