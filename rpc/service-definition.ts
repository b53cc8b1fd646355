/**
 * Builds grpc-js service definitions from protobuf-es service descriptors, so
 * the generated code is the only description of the wire format.
 */
import { fromBinary, toBinary, create, isMessage, type DescMessage, type DescMethod, type DescService, type MessageShape } from "@bufbuild/protobuf";
import type { MethodDefinition, ServiceDefinition } from "@grpc/grpc-js";

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
 * Hand-written response serializers of chosen methods, by method local name,
 * for hot paths where `create` + `toBinary` cost too much (a registry's
 * CheckDevices); each must return exactly what `serializerFor` would.
 */
export type ResponseSerializers = Readonly<Record<string, (value: unknown) => Buffer>>;

export function methodDefinition(method: DescMethod, responseSerialize?: (value: unknown) => Buffer): MethodDefinition<unknown, unknown> {
  return {
    path: methodPath(method),
    requestStream: method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
    responseStream: method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
    requestSerialize: serializerFor(method.input),
    requestDeserialize: deserializerFor(method.input),
    responseSerialize: responseSerialize ?? serializerFor(method.output),
    responseDeserialize: deserializerFor(method.output),
    originalName: method.localName,
  };
}

export function serviceDefinition(service: DescService, serializers: ResponseSerializers = {}): ServiceDefinition {
  for (const name of Object.keys(serializers)) {
    if (!service.methods.some((m) => m.localName === name)) throw new Error(`${service.typeName} has no method ${name} for a response serializer`);
  }
  const definition: Record<string, MethodDefinition<unknown, unknown>> = {};
  for (const method of service.methods) definition[method.name] = methodDefinition(method, serializers[method.localName]);
  return definition as ServiceDefinition;
}
