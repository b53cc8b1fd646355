/**
 * Telemetry kept in memory, for tests that assert on spans (parent links,
 * attributes) and metrics without a collector: the hook startTelemetry
 * offers, wrapped with the look-ups such tests need.
 */
import type { Attributes } from "@opentelemetry/api";
import { MetricReader, type DataPoint, type ResourceMetrics } from "@opentelemetry/sdk-metrics";
import { InMemorySpanExporter, type ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { startTelemetry, type Telemetry } from "./telemetry.js";

/** A reader that collects only when asked. */
class OnDemandMetricReader extends MetricReader {
  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }
  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}

/** A data point of a collected metric (counter sum, gauge value or histogram). */
export interface CollectedPoint {
  attributes: Attributes;
  /** A number for sums and gauges; `{ count, sum, ... }` for histograms. */
  value: DataPoint<unknown>["value"];
}

export interface InMemoryTelemetry extends Telemetry {
  readonly exporter: InMemorySpanExporter;
  /** Every span ended so far (IMEIs already masked, as an exporter would see them). */
  spans(): ReadableSpan[];
  /** Collects the metrics now. */
  collect(): Promise<ResourceMetrics>;
  /** The data points of the metric `name`, freshly collected. */
  points(name: string): Promise<CollectedPoint[]>;
  /** Forgets the spans ended so far. */
  reset(): void;
}

/** Starts telemetry that records every span and metric in memory, ignoring OTEL_* variables. */
export async function startInMemoryTelemetry(serviceName = "imeifed-test"): Promise<InMemoryTelemetry> {
  const exporter = new InMemorySpanExporter();
  const reader = new OnDemandMetricReader();
  const telemetry = await startTelemetry({ serviceName, env: {}, spanExporter: exporter, metricReader: reader });
  const collect = async () => {
    const { resourceMetrics, errors } = await reader.collect();
    if (errors.length > 0) throw new AggregateError(errors, "collecting metrics failed");
    return resourceMetrics;
  };
  return {
    tracing: telemetry.tracing,
    metrics: telemetry.metrics,
    forceFlush: () => telemetry.forceFlush(),
    shutdown: () => telemetry.shutdown(),
    exporter,
    spans: () => exporter.getFinishedSpans(),
    collect,
    async points(name) {
      const collected = await collect();
      const points: CollectedPoint[] = [];
      for (const scope of collected.scopeMetrics) {
        for (const metric of scope.metrics) {
          if (metric.descriptor.name !== name) continue;
          for (const point of metric.dataPoints as DataPoint<unknown>[]) points.push({ attributes: point.attributes, value: point.value });
        }
      }
      return points;
    },
    reset: () => exporter.reset(),
  };
}
