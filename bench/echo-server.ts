/**
 * The cache-hit benchmark's baseline: a bare grpc-js unary server that
 * answers every call with a fixed-size payload, without any decoding, so the
 * gateway's cache-hit rate can be read as a share of what grpc-js itself can
 * do on this machine. Run as a child process: `node --import tsx
 * bench/echo-server.ts RESPONSE_BYTES`; prints `{"address": ...}` when serving.
 */
import { Server, ServerCredentials, type ServiceDefinition } from "@grpc/grpc-js";

const identity = (b: Buffer) => b;
const responseBytes = Number(process.argv[2] ?? "64");
const response = Buffer.alloc(responseBytes, 7);

/** One unary method whose messages are raw bytes. */
const ECHO: ServiceDefinition = {
  Echo: {
    path: "/bench.Echo/Echo",
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

const server = new Server();
server.addService(ECHO, { Echo: (_call: unknown, callback: (e: null, r: Buffer) => void) => callback(null, response) });
server.bindAsync("127.0.0.1:0", ServerCredentials.createInsecure(), (error, port) => {
  if (error) throw error;
  console.log(JSON.stringify({ address: `127.0.0.1:${port}` }));
});
process.on("SIGTERM", () => server.tryShutdown(() => process.exit(0)));
