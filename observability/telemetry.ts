/**
 * Starts OpenTelemetry for one imeifed process from the standard OTEL_*
 * variables (the only place that reads them). With none set, nothing is
 * installed, not even loaded: spans come from the API's no-op tracer and
 * `metrics.*` are empty functions, so an unobserved pilot pays next to nothing.
 *
 * Call it first thing in a process, before servers start, and call
 * `shutdown()` before exit so the last spans and metrics are flushed.
 */
import type { IMetricReader } from "@opentelemetry/sdk-metrics";
import type { SpanExporter } from "@opentelemetry/sdk-trace-base";
import { Code, ImeifedError } from "../errors/index.js";
import type { Logger } from "./logger.js";
import { installMetrics, uninstallMetrics } from "./metrics.js";
import { TRACER_NAME } from "./rpc-tracing.js";
import { parseTelemetryEnv, type Environment, type TelemetryConfig } from "./telemetry-config.js";

export interface TelemetryOptions {
  /** `service.name` of this process (`imeifed-gateway`, `imeifed-registry-gb`); OTEL_SERVICE_NAME overrides it. */
  serviceName: string;
  /** Where OTEL_* are read from; `process.env` by default. */
  env?: Environment;
  /** Test hook: every span also goes here as soon as it ends, whatever the environment says. */
  spanExporter?: SpanExporter;
  /** Test hook: metrics are also readable through this reader, whatever the environment says. */
  metricReader?: IMetricReader;
  /** Receives the SDK's own diagnostics (a collector that cannot be reached, ...), at OTEL_LOG_LEVEL. */
  logger?: Logger;
}

/** A running telemetry setup. */
export interface Telemetry {
  /** Whether spans are recorded and exported. */
  readonly tracing: boolean;
  /** Whether metrics are recorded and exported. */
  readonly metrics: boolean;
  /** Exports what is buffered now (before a risky step, or in tests). */
  forceFlush(): Promise<void>;
  /** Flushes, then uninstalls everything, so the process exits clean (or a test can start afresh). */
  shutdown(): Promise<void>;
}

const NOTHING: Telemetry = { tracing: false, metrics: false, forceFlush: async () => {}, shutdown: async () => {} };

/** Set from the moment a start begins, so two starts cannot race. */
let running: boolean = false;

/**
 * Installs tracing and metrics as OTEL_* (or the test hooks) ask. Rejects
 * with FAILED_PRECONDITION naming the variable when one is invalid, and when
 * telemetry is already running in this process.
 */
export async function startTelemetry(options: TelemetryOptions): Promise<Telemetry> {
  if (running) throw new ImeifedError(Code.FAILED_PRECONDITION, "TELEMETRY_RUNNING", "telemetry is already started in this process; shut it down before starting it again");
  // The one read of the OTEL_* variables: the rest of imeifed gets typed config.
  const config = parseTelemetryEnv(options.env ?? process.env);
  // The test hooks install exactly what they bring, nothing the environment adds.
  const fromEnv = !config.disabled && options.spanExporter === undefined && options.metricReader === undefined;
  const effective: TelemetryConfig = fromEnv
    ? config
    : { ...config, traces: { ...config.traces, exporters: [] }, metrics: { ...config.metrics, exporters: [] } };
  const wanted = options.spanExporter !== undefined || options.metricReader !== undefined || effective.traces.exporters.length > 0 || effective.metrics.exporters.length > 0;
  if (!wanted) return NOTHING;
  running = true;
  try {
    const { installTelemetrySdk } = await import("./telemetry-sdk.js");
    const { telemetry, meter } = installTelemetrySdk(effective, options, TRACER_NAME);
    if (meter) installMetrics(meter);
    let stopped: Promise<void> | undefined;
    return {
      tracing: telemetry.tracing,
      metrics: telemetry.metrics,
      forceFlush: () => telemetry.forceFlush(),
      shutdown: () =>
        (stopped ??= (async () => {
          uninstallMetrics();
          await telemetry.shutdown();
          running = false;
        })()),
    };
  } catch (error) {
    running = false;
    throw error;
  }
}
