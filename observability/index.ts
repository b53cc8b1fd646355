/**
 * Observability of imeifed: OpenTelemetry traces and metrics, exported over
 * OTLP when OTEL_* say so, and structured JSON logs carrying the trace id.
 *
 * Tests import `startInMemoryTelemetry` from `./in-memory-telemetry.js`
 * directly: it loads the SDK, which a process without telemetry never does.
 */
export { startTelemetry } from "./telemetry.js";
export type { Telemetry, TelemetryOptions } from "./telemetry.js";
export { parseTelemetryEnv } from "./telemetry-config.js";
export type { TelemetryConfig, Environment } from "./telemetry-config.js";
export { serverTracing, clientTracing, traceOfFailure, TRACER_NAME } from "./rpc-tracing.js";
export { startMessageClientSpan, tracedMessage } from "./message-tracing.js";
export type { MessageClientSpan } from "./message-tracing.js";
export { RPC_ATTRIBUTE } from "./rpc-attributes.js";
export { recordDevice, DEVICE_ATTRIBUTE } from "./device-span.js";
export { metrics, createMetrics, installMetrics, uninstallMetrics, METRIC, METRIC_ATTRIBUTE, CIRCUIT_STATES, MAX_LABEL_VALUES } from "./metrics.js";
export type { ImeifedMetrics, CircuitState, UpstreamOutcome } from "./metrics.js";
export { createLogger, logLevelSchema, LOG_LEVELS } from "./logger.js";
export type { Logger, LoggerOptions, LogLevel, LogFields } from "./logger.js";
export { logInternalErrors } from "./internal-errors.js";
export { redactImeis } from "./imei-redaction.js";
export { RedactingSpanExporter } from "./redacting-span-exporter.js";
export { startObservability } from "./process-observability.js";
export type { ObservabilityOptions, ProcessObservability } from "./process-observability.js";
