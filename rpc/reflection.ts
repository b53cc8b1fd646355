/**
 * Server reflection (grpcurl, Postman, ...) from the generated descriptors:
 * @grpc/reflection wants a proto-loader style package definition, which only
 * needs each service's serialized FileDescriptorProtos with their imports.
 */
import { toBinary, type DescFile, type DescService } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { ReflectionService } from "@grpc/reflection";
import type { Server } from "@grpc/grpc-js";

function withImports(file: DescFile, seen = new Map<string, DescFile>()): Map<string, DescFile> {
  if (seen.has(file.name)) return seen;
  seen.set(file.name, file);
  for (const dependency of file.dependencies) withImports(dependency, seen);
  return seen;
}

export function addReflection(server: Server, services: readonly DescService[]): void {
  const packageDefinition: Record<string, { fileDescriptorProtos: Buffer[] }> = {};
  for (const service of services) {
    const files = [...withImports(service.file).values()];
    packageDefinition[service.typeName] = {
      fileDescriptorProtos: files.map((f) => Buffer.from(toBinary(FileDescriptorProtoSchema, f.proto))),
    };
  }
  // The package definition's other fields are not read by the reflection service.
  new ReflectionService(packageDefinition as never).addToServer(server);
}
