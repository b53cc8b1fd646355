/**
 * The OpenTelemetry SDK side of startTelemetry: providers, exporters,
 * samplers, propagators and the context manager. It lives apart so that a
 * process without OTEL_* variables never loads the SDK at all.
 */
import { context, diag, DiagLogLevel, metrics as metricsApi, propagation, trace, type DiagLogger, type Meter, type TextMapPropagator } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { CompositePropagator, W3CBaggagePropagator, W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPMetricExporter } from "@opentelemetry/exporter-metrics-otlp-proto";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { defaultResource, resourceFromAttributes, type Resource } from "@opentelemetry/resources";
import { AggregationTemporality, ConsoleMetricExporter, MeterProvider, PeriodicExportingMetricReader, type IMetricReader, type PushMetricExporter } from "@opentelemetry/sdk-metrics";
import {
  AlwaysOffSampler,
  AlwaysOnSampler,
  BasicTracerProvider,
  BatchSpanProcessor,
  ConsoleSpanExporter,
  ParentBasedSampler,
  SimpleSpanProcessor,
  TraceIdRatioBasedSampler,
  type Sampler,
  type SpanExporter,
  type SpanProcessor,
} from "@opentelemetry/sdk-trace-base";
import type { Logger } from "./logger.js";
import { RedactingSpanExporter } from "./redacting-span-exporter.js";
import type { OtlpTarget, TelemetryConfig } from "./telemetry-config.js";
import type { Telemetry, TelemetryOptions } from "./telemetry.js";

function samplerOf(config: TelemetryConfig["traces"]): Sampler {
  const ratio = () => new TraceIdRatioBasedSampler(config.samplerRatio);
  switch (config.sampler) {
    case "always_on":
      return new AlwaysOnSampler();
    case "always_off":
      return new AlwaysOffSampler();
    case "traceidratio":
      return ratio();
    case "parentbased_always_off":
      return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    case "parentbased_traceidratio":
      return new ParentBasedSampler({ root: ratio() });
    case "parentbased_always_on":
      return new ParentBasedSampler({ root: new AlwaysOnSampler() });
  }
}

function otlpOptions(target: OtlpTarget) {
  // The exporter's option type is an enum of the same strings ("gzip" | "none").
  return { url: target.url, headers: target.headers, timeoutMillis: target.timeoutMillis, compression: target.compression as never };
}

function resourceOf(config: TelemetryConfig, serviceName: string): Resource {
  const name = config.serviceName ?? config.resourceAttributes["service.name"] ?? serviceName;
  return defaultResource().merge(resourceFromAttributes({ ...config.resourceAttributes, "service.name": name, "process.pid": process.pid }));
}

function spanProcessorsOf(config: TelemetryConfig, testExporter: SpanExporter | undefined): SpanProcessor[] {
  const processors: SpanProcessor[] = [];
  for (const exporter of config.traces.exporters) {
    if (exporter === "otlp") processors.push(new BatchSpanProcessor(new RedactingSpanExporter(new OTLPTraceExporter(otlpOptions(config.traces.otlp))), config.batch));
    else processors.push(new SimpleSpanProcessor(new RedactingSpanExporter(new ConsoleSpanExporter())));
  }
  if (testExporter) processors.push(new SimpleSpanProcessor(new RedactingSpanExporter(testExporter)));
  return processors;
}

const TEMPORALITY = {
  cumulative: AggregationTemporality.CUMULATIVE,
  delta: AggregationTemporality.DELTA,
  // The exporter's AggregationTemporalityPreference.LOWMEMORY; its enum is not re-exported.
  lowmemory: 2 as AggregationTemporality,
};

function metricReadersOf(config: TelemetryConfig, testReader: IMetricReader | undefined): IMetricReader[] {
  const readers: IMetricReader[] = [];
  const { intervalMillis } = config.metrics;
  // The reader refuses a timeout longer than its interval.
  const timeoutMillis = Math.min(config.metrics.timeoutMillis, intervalMillis);
  for (const exporter of config.metrics.exporters) {
    const push: PushMetricExporter =
      exporter === "otlp"
        ? new OTLPMetricExporter({ ...otlpOptions(config.metrics.otlp), temporalityPreference: TEMPORALITY[config.metrics.temporality] })
        : new ConsoleMetricExporter();
    readers.push(new PeriodicExportingMetricReader({ exporter: push, exportIntervalMillis: intervalMillis, exportTimeoutMillis: timeoutMillis }));
  }
  if (testReader) readers.push(testReader);
  return readers;
}

const DIAG_LEVEL: Record<TelemetryConfig["diagLevel"], DiagLogLevel> = {
  none: DiagLogLevel.NONE,
  error: DiagLogLevel.ERROR,
  warn: DiagLogLevel.WARN,
  info: DiagLogLevel.INFO,
  debug: DiagLogLevel.DEBUG,
  verbose: DiagLogLevel.VERBOSE,
  all: DiagLogLevel.ALL,
};

/** The SDK reports failed exports as a serialised error; log it as a readable line with the error as a field. */
function diagLine(msg: string, args: unknown[]): [string, Record<string, unknown>] {
  const fields: Record<string, unknown> = { component: "opentelemetry" };
  if (args.length > 0) fields.details = args;
  if (msg.startsWith("{")) {
    try {
      const error = JSON.parse(msg) as Record<string, unknown>;
      return [`telemetry: ${String(error.message ?? "export failed")}`, { ...fields, error }];
    } catch {
      // Not JSON after all: log it as it came.
    }
  }
  return [msg, fields];
}

function diagLoggerOf(logger: Logger): DiagLogger {
  return {
    error: (msg, ...args) => logger.error(...diagLine(msg, args)),
    warn: (msg, ...args) => logger.warn(...diagLine(msg, args)),
    info: (msg, ...args) => logger.info(...diagLine(msg, args)),
    debug: (msg, ...args) => logger.debug(...diagLine(msg, args)),
    verbose: (msg, ...args) => logger.debug(...diagLine(msg, args)),
  };
}

function propagatorOf(config: TelemetryConfig): TextMapPropagator {
  const propagators: TextMapPropagator[] = config.propagators.map((p) => (p === "tracecontext" ? new W3CTraceContextPropagator() : new W3CBaggagePropagator()));
  return new CompositePropagator({ propagators });
}

/**
 * Installs the SDK globally as `effective` says and returns it with the meter
 * for imeifed's instruments. The caller binds `metrics` to that meter: this
 * module is loaded lazily and, under a test runner mixing module systems, may
 * not share the caller's instance of metrics.ts (the OTel API's globals are
 * shared either way).
 */
export function installTelemetrySdk(effective: TelemetryConfig, options: TelemetryOptions, meterName: string): { telemetry: Telemetry; meter: Meter | undefined } {
  const wantsTraces = options.spanExporter !== undefined || effective.traces.exporters.length > 0;
  const wantsMetrics = options.metricReader !== undefined || effective.metrics.exporters.length > 0;
  const resource = resourceOf(effective, options.serviceName);

  if (options.logger && effective.diagLevel !== "none") diag.setLogger(diagLoggerOf(options.logger), { logLevel: DIAG_LEVEL[effective.diagLevel], suppressOverrideMessage: true });

  let tracerProvider: BasicTracerProvider | undefined;
  let contextManager: AsyncLocalStorageContextManager | undefined;
  if (wantsTraces) {
    tracerProvider = new BasicTracerProvider({ resource, sampler: samplerOf(effective.traces), spanProcessors: spanProcessorsOf(effective, options.spanExporter) });
    // Handlers must run inside their call's span for client calls and log lines to find it.
    contextManager = new AsyncLocalStorageContextManager().enable();
    context.setGlobalContextManager(contextManager);
    propagation.setGlobalPropagator(propagatorOf(effective));
    trace.setGlobalTracerProvider(tracerProvider);
  }

  let meterProvider: MeterProvider | undefined;
  if (wantsMetrics) {
    meterProvider = new MeterProvider({ resource, readers: metricReadersOf(effective, options.metricReader) });
    metricsApi.setGlobalMeterProvider(meterProvider);
  }

  let stopped: Promise<void> | undefined;
  const telemetry: Telemetry = {
    tracing: wantsTraces,
    metrics: wantsMetrics,
    async forceFlush() {
      await Promise.all([tracerProvider?.forceFlush(), meterProvider?.forceFlush()]);
    },
    shutdown() {
      stopped ??= (async () => {
        // Unhook first so nothing new reaches the providers, then flush them.
        trace.disable();
        metricsApi.disable();
        propagation.disable();
        context.disable();
        contextManager?.disable();
        // A collector that is down must not stop the process from stopping.
        const results = await Promise.allSettled([tracerProvider?.shutdown(), meterProvider?.shutdown()]);
        for (const result of results) {
          if (result.status === "rejected") options.logger?.warn("telemetry could not be flushed at shutdown", { error: result.reason });
        }
        diag.disable();
      })();
      return stopped;
    },
  };
  return { telemetry, meter: meterProvider?.getMeter(meterName) };
}
