/**
 * Starts a grpc-js server for a set of services, with the gRPC health service
 * and server reflection, and stops it cleanly.
 */
import { Server, ServerCredentials, type ChannelOptions } from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";
import type { DescService } from "@bufbuild/protobuf";
import { Code, ImeifedError } from "../errors/index.js";
import { addReflection } from "./reflection.js";
import { widenServerWindows } from "./flow-control.js";
import { ConnectionGuard, type ConnectionLimitsInput } from "./connection-guard.js";
import { implementService, type ServerInterceptor } from "./server.js";
import { serviceDefinition } from "./service-definition.js";
import type { WireCodecs } from "./wire-codecs.js";
import type { RequestReads, ServiceImpl } from "./handler-types.js";

/** A service and its implementation, ready to be hosted. */
export interface HostedService {
  service: DescService;
  impl: object;
  /** Hand-written codecs of hot methods (see wire-codecs.ts). */
  codecs?: object;
}

/** `impl` of `service`, with the hand codecs and request readers of its hot methods (the methods `R` names must have their readers). */
export function hosted<S extends DescService, R extends RequestReads<S> = {}>(service: S, impl: ServiceImpl<S, R>, ...codecs: {} extends R ? [codecs?: WireCodecs<S, R>] : [codecs: WireCodecs<S, R>]): HostedService {
  const [given] = codecs;
  return { service, impl, ...(given ? { codecs: given } : {}) };
}

export interface HostOptions {
  /** `host:port`; port 0 picks a free port. */
  listen: string;
  services: readonly HostedService[];
  interceptors?: readonly ServerInterceptor[];
  /** TLS or mutual TLS; insecure when absent. */
  credentials?: ServerCredentials;
  /** Allow plaintext on a non-loopback address (an explicit operator decision). */
  allowInsecureNonLoopback?: boolean;
  channelOptions?: ChannelOptions;
  /** Caps, preface deadline, idle and keepalive of its connections (connection-guard.ts; defaults when absent). */
  connections?: ConnectionLimitsInput;
}

export interface RunningHost {
  readonly server: Server;
  readonly port: number;
  /** `host:port` with the bound port. */
  readonly address: string;
  readonly health: HealthImplementation;
  /** Stops accepting calls, lets running ones finish for up to `graceMs`, then cancels the rest. */
  shutdown(graceMs?: number): Promise<void>;
}

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "");
  return h === "localhost" || h === "::1" || /^127\.\d+\.\d+\.\d+$/.test(h);
}

export function splitHostPort(address: string): { host: string; port: number } {
  const match = /^(\[[^\]]+\]|[^:]+):(\d+)$/.exec(address);
  if (!match) throw new ImeifedError(Code.INVALID_ARGUMENT, "BAD_ADDRESS", `listen address ${JSON.stringify(address)} is not host:port`);
  return { host: match[1]!, port: Number(match[2]) };
}

export async function startHost(options: HostOptions): Promise<RunningHost> {
  const { host } = splitHostPort(options.listen);
  const credentials = options.credentials ?? ServerCredentials.createInsecure();
  if (!credentials._isSecure() && !isLoopbackHost(host) && !options.allowInsecureNonLoopback) {
    throw new ImeifedError(
      Code.FAILED_PRECONDITION,
      "INSECURE_LISTEN",
      `refusing to listen on ${options.listen} without TLS; configure tls, listen on a loopback address, or pass the explicit insecure flag`,
    );
  }
  const connections = new ConnectionGuard(options.connections);
  const server = new Server({
    "grpc.keepalive_permit_without_calls": 1,
    "grpc.http2.min_ping_interval_without_data_ms": 5_000,
    ...connections.serverOptions,
    ...options.channelOptions,
  });
  const health = new HealthImplementation({ "": "SERVING" });
  for (const { service, impl, codecs } of options.services) {
    server.addService(serviceDefinition(service, codecs as never), implementService(service, impl as never, options.interceptors));
    health.setStatus(service.typeName, "SERVING");
  }
  health.addToServer(server);
  addReflection(server, options.services.map((s) => s.service));
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(options.listen, credentials, (error, boundPort) => (error ? reject(error) : resolve(boundPort))),
  );
  widenServerWindows(server);
  if (!connections.guard(server)) {
    server.forceShutdown();
    throw new ImeifedError(Code.FAILED_PRECONDITION, "CONNECTION_GUARD_UNAVAILABLE", "this grpc-js no longer exposes its HTTP/2 servers, so connections cannot be capped: check rpc/connection-guard.ts against it");
  }
  let stopped: Promise<void> | undefined;
  return {
    server,
    port,
    address: `${host}:${port}`,
    health,
    shutdown(graceMs = 2_000) {
      stopped ??= new Promise<void>((resolve) => {
        health.setStatus("", "NOT_SERVING");
        for (const { service } of options.services) health.setStatus(service.typeName, "NOT_SERVING");
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
      return stopped;
    },
  };
}
