/**
 * Everything one imeifed process (a registry, the gateway, the demo) needs to
 * be observable, in one call at start: its structured logger, internal errors
 * routed to that logger, and telemetry as OTEL_* ask.
 */
import type { Interceptor } from "@grpc/grpc-js";
import type { ServerInterceptor } from "../rpc/index.js";
import { logInternalErrors } from "./internal-errors.js";
import { clientTracing, serverTracing } from "./rpc-tracing.js";
import { createLogger, type Logger, type LoggerOptions, type LogLevel } from "./logger.js";
import { startTelemetry, type Telemetry } from "./telemetry.js";
import type { Environment } from "./telemetry-config.js";

export interface ObservabilityOptions {
  /** `service.name` and the `service` of each log line, e.g. `imeifed-registry-gb`. */
  serviceName: string;
  /** From the process's validated config; `info` by default. */
  logLevel?: LogLevel;
  /** Where OTEL_* are read from; `process.env` by default. */
  env?: Environment;
  /** Where log lines go; stderr by default. */
  write?: LoggerOptions["write"];
}

/** What a process holds on to: log through `logger`, call `shutdown()` before exit. */
export interface ProcessObservability {
  readonly logger: Logger;
  readonly telemetry: Telemetry;
  /**
   * The interceptors that trace and count RPCs, for the process's servers and
   * clients: none when no telemetry is installed, since without an SDK their
   * spans, metrics and propagation are no-ops that still cost each call.
   */
  readonly rpcTracing: { readonly server: ServerInterceptor[]; readonly client: Interceptor[] };
  /** Flushes spans and metrics; never rejects (a collector that is down is logged). */
  shutdown(): Promise<void>;
}

/** Starts logging and telemetry for this process; rejects when an OTEL_* variable is invalid. */
export async function startObservability(options: ObservabilityOptions): Promise<ProcessObservability> {
  const logger = createLogger(options.serviceName, { level: options.logLevel ?? "info", ...(options.write ? { write: options.write } : {}) });
  logInternalErrors(logger);
  const telemetry = await startTelemetry({ serviceName: options.serviceName, logger, ...(options.env ? { env: options.env } : {}) });
  if (telemetry.tracing || telemetry.metrics) logger.debug("telemetry started", { tracing: telemetry.tracing, metrics: telemetry.metrics });
  const traced = telemetry.tracing || telemetry.metrics;
  const rpcTracing = { server: traced ? [serverTracing()] : [], client: traced ? [clientTracing()] : [] };
  return { logger, telemetry, rpcTracing, shutdown: () => telemetry.shutdown() };
}
