/**
 * Typed grpc-js clients for protobuf-es services, for all four call shapes.
 * Every failure rejects (or throws from the iterator) as an ImeifedError that
 * carries the server's status code and message.
 */
import { once } from "node:events";
import {
  Client as GrpcClient,
  credentials as grpcCredentials,
  Metadata,
  type CallOptions as GrpcCallOptions,
  type ChannelCredentials,
  type ChannelOptions,
  type ClientDuplexStream,
  type ClientWritableStream,
  type Interceptor,
  type ServiceError,
} from "@grpc/grpc-js";
import type { DescMethod, DescService } from "@bufbuild/protobuf";
import type { CallOptions, Client } from "./handler-types.js";
import { fromServiceError } from "./status.js";
import { deserializerFor, methodPath, serializerFor } from "./service-definition.js";
import { STREAM_WINDOW_BYTES } from "./flow-control.js";
import { codecOf, type WireCodecs } from "./wire-codecs.js";

export interface ClientOptions {
  /** TLS or mutual TLS; insecure when absent. */
  credentials?: ChannelCredentials;
  /** Per-call metadata added to every call (for example a bearer token supplier). */
  metadata?: () => Record<string, string> | Promise<Record<string, string>>;
  /** grpc-js interceptors (tracing). */
  interceptors?: Interceptor[];
  channelOptions?: ChannelOptions;
}

/** A client's options, with the hand codecs of its service's hot methods (see wire-codecs.ts). */
export interface ServiceClientOptions<S extends DescService> extends ClientOptions {
  codecs?: WireCodecs<S>;
}

/** Long-lived channels: HTTP/2 keepalive notices a dead peer without a call in flight. */
export const DEFAULT_CHANNEL_OPTIONS: ChannelOptions = {
  "grpc.keepalive_time_ms": 10_000,
  "grpc.keepalive_timeout_ms": 5_000,
  "grpc.keepalive_permit_without_calls": 1,
  "grpc.max_receive_message_length": 64 * 1024 * 1024,
  // The window this side grants a server's answers (see flow-control.ts; servers get theirs from widenServerWindows).
  "grpc-node.flow_control_window": STREAM_WINDOW_BYTES,
  // Reconnect quickly to a registry that comes back.
  "grpc.initial_reconnect_backoff_ms": 200,
  "grpc.max_reconnect_backoff_ms": 2_000,
};

async function buildMetadata(options: ClientOptions, call?: CallOptions): Promise<Metadata> {
  const metadata = new Metadata();
  const base = options.metadata ? await options.metadata() : {};
  for (const [k, v] of Object.entries({ ...base, ...call?.metadata })) metadata.set(k, v);
  return metadata;
}

function grpcCallOptions(call?: CallOptions): GrpcCallOptions {
  if (call?.deadline === undefined) return {};
  return { deadline: typeof call.deadline === "number" ? Date.now() + call.deadline : call.deadline };
}

function onAbort(signal: AbortSignal | undefined, cancel: () => void): () => void {
  if (!signal) return () => {};
  if (signal.aborted) {
    cancel();
    return () => {};
  }
  signal.addEventListener("abort", cancel, { once: true });
  return () => signal.removeEventListener("abort", cancel);
}

/** Pumps an async iterable into a client stream, honouring back-pressure. */
async function pump(stream: ClientWritableStream<unknown> | ClientDuplexStream<unknown, unknown>, requests: AsyncIterable<unknown>): Promise<void> {
  try {
    for await (const request of requests) {
      if (!stream.write(request)) await once(stream, "drain");
    }
    stream.end();
  } catch (error) {
    // A failing request source cancels the call; the read side reports CANCELLED.
    stream.cancel();
    if (!(error instanceof Error && error.name === "AbortError")) throw error;
  }
}

/** Reads a client-side response stream as an async iterable of messages. */
async function* readAll(stream: NodeJS.ReadableStream & { cancel(): void }, release: () => void): AsyncIterable<never> {
  try {
    for await (const message of stream) yield message as never;
  } catch (error) {
    throw fromServiceError(error as ServiceError);
  } finally {
    // Breaking out early cancels the call.
    stream.cancel();
    release();
  }
}

export function createClient<S extends DescService>(service: S, address: string, options: ServiceClientOptions<S> = {}): Client<S> {
  const grpcClient = new GrpcClient(address, options.credentials ?? grpcCredentials.createInsecure(), {
    ...DEFAULT_CHANNEL_OPTIONS,
    ...options.channelOptions,
    ...(options.interceptors ? { interceptors: options.interceptors } : {}),
  });
  const client: Record<string, unknown> = { close: () => grpcClient.close() };
  for (const method of service.methods) client[method.localName] = clientMethod(grpcClient, method, options);
  return client as Client<S>;
}

function clientMethod(grpcClient: GrpcClient, method: DescMethod, options: ClientOptions & { codecs?: object }): unknown {
  const path = methodPath(method);
  const codec = codecOf(options.codecs, method);
  const serialize = (codec?.request?.encode as ((value: unknown) => Buffer) | undefined) ?? serializerFor(method.input);
  const deserialize = codec?.response?.decode ?? deserializerFor(method.output);
  switch (method.methodKind) {
    case "unary":
      return async (request: unknown, call?: CallOptions) => {
        const metadata = await buildMetadata(options, call);
        return new Promise((resolve, reject) => {
          const pending = grpcClient.makeUnaryRequest(path, serialize, deserialize, request, metadata, grpcCallOptions(call), (error, response) => {
            release();
            if (error) reject(fromServiceError(error));
            else resolve(response);
          });
          const release = onAbort(call?.signal, () => pending.cancel());
        });
      };
    case "server_streaming":
      return (request: unknown, call?: CallOptions) =>
        (async function* () {
          const metadata = await buildMetadata(options, call);
          const stream = grpcClient.makeServerStreamRequest(path, serialize, deserialize, request, metadata, grpcCallOptions(call));
          yield* readAll(stream, onAbort(call?.signal, () => stream.cancel()));
        })();
    case "client_streaming":
      return async (requests: AsyncIterable<unknown>, call?: CallOptions) => {
        const metadata = await buildMetadata(options, call);
        return new Promise((resolve, reject) => {
          const stream = grpcClient.makeClientStreamRequest(path, serialize, deserialize, metadata, grpcCallOptions(call), (error, response) => {
            release();
            if (error) reject(fromServiceError(error));
            else resolve(response);
          });
          const release = onAbort(call?.signal, () => stream.cancel());
          pump(stream, requests).catch(reject);
        });
      };
    case "bidi_streaming":
      return (requests: AsyncIterable<unknown>, call?: CallOptions) =>
        (async function* () {
          const metadata = await buildMetadata(options, call);
          const stream = grpcClient.makeBidiStreamRequest(path, serialize, deserialize, metadata, grpcCallOptions(call));
          let pumpError: unknown;
          pump(stream, requests).catch((error: unknown) => {
            pumpError = error;
          });
          yield* readAll(stream, onAbort(call?.signal, () => stream.cancel()));
          if (pumpError) throw pumpError;
        })();
  }
}
