/**
 * The standard OpenTelemetry environment variables (OTEL_*), validated once at
 * start into a typed config. Only the subset imeifed supports is accepted:
 * OTLP over http/protobuf or the console, W3C propagation; anything else is
 * refused with the variable's name rather than silently ignored.
 */
import { z } from "zod";
import { Code, ImeifedError } from "../errors/index.js";

/** The environment as a plain record (process.env, or a test's own). */
export type Environment = Readonly<Record<string, string | undefined>>;

export type SignalExporter = "otlp" | "console";
export type Compression = "gzip" | "none";

/** Where and how one signal is sent over OTLP/HTTP. */
export interface OtlpTarget {
  url: string;
  headers: Record<string, string>;
  timeoutMillis: number;
  compression: Compression;
}

export type SamplerName = "always_on" | "always_off" | "traceidratio" | "parentbased_always_on" | "parentbased_always_off" | "parentbased_traceidratio";

export interface TelemetryConfig {
  /** OTEL_SDK_DISABLED=true: install nothing even when exporters are configured. */
  disabled: boolean;
  /** OTEL_SERVICE_NAME, overriding the name the process gives. */
  serviceName: string | undefined;
  /** OTEL_RESOURCE_ATTRIBUTES. */
  resourceAttributes: Record<string, string>;
  traces: { exporters: SignalExporter[]; otlp: OtlpTarget; sampler: SamplerName; samplerRatio: number };
  metrics: { exporters: SignalExporter[]; otlp: OtlpTarget; intervalMillis: number; timeoutMillis: number; temporality: "cumulative" | "delta" | "lowmemory" };
  /** OTEL_BSP_*: the batch span processor's queue. */
  batch: { scheduledDelayMillis: number; maxQueueSize: number; maxExportBatchSize: number; exportTimeoutMillis: number };
  propagators: Array<"tracecontext" | "baggage">;
  /** OTEL_LOG_LEVEL: how much of the SDK's own diagnostics reach the log. */
  diagLevel: "none" | "error" | "warn" | "info" | "debug" | "verbose" | "all";
}

function configError(variable: string, problem: string): ImeifedError {
  return new ImeifedError(Code.FAILED_PRECONDITION, "TELEMETRY_CONFIG", `${variable}: ${problem}`, { field: variable });
}

/** Reads one variable through `schema`; the spec treats empty values as unset. */
function read<T>(env: Environment, variable: string, schema: z.ZodType<T>): T | undefined {
  const raw = env[variable]?.trim();
  if (raw === undefined || raw === "") return undefined;
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw configError(variable, `${JSON.stringify(raw)} is not valid: ${parsed.error.issues.map((i) => i.message).join("; ")}`);
  return parsed.data;
}

const positiveInt = z.coerce.number().int().positive();
const nonNegativeInt = z.coerce.number().int().min(0);
function lowerCase<T extends string>(values: readonly [T, ...T[]]) {
  return z.string().transform((s) => s.toLowerCase()).pipe(z.enum(values as [T, ...T[]]));
}

/** `a,b` lists (OTEL_TRACES_EXPORTER=otlp,console). */
function list(env: Environment, variable: string, allowed: readonly string[], unsupported: string): string[] | undefined {
  const raw = env[variable]?.trim();
  if (raw === undefined || raw === "") return undefined;
  const items = raw.split(",").map((s) => s.trim().toLowerCase()).filter(Boolean);
  for (const item of items) {
    if (!allowed.includes(item)) throw configError(variable, `${JSON.stringify(item)} is not supported; use ${allowed.join(", ")} (${unsupported})`);
  }
  return items;
}

/** `k1=v1,k2=v2` with percent-encoded values (OTLP headers, resource attributes). */
function keyValues(env: Environment, variable: string): Record<string, string> {
  const raw = env[variable]?.trim();
  const out: Record<string, string> = {};
  if (!raw) return out;
  for (const pair of raw.split(",")) {
    if (pair.trim() === "") continue;
    const eq = pair.indexOf("=");
    const key = eq > 0 ? pair.slice(0, eq).trim() : "";
    if (!key) throw configError(variable, `${JSON.stringify(pair)} is not key=value`);
    try {
      out[key] = decodeURIComponent(pair.slice(eq + 1).trim());
    } catch {
      throw configError(variable, `the value of ${key} is not valid percent-encoding`);
    }
  }
  return out;
}

const url = z.string().url().refine((u) => /^https?:/.test(u), "must be an http or https URL");

function otlpTarget(env: Environment, signal: "TRACES" | "METRICS"): OtlpTarget {
  const path = signal === "TRACES" ? "v1/traces" : "v1/metrics";
  for (const variable of [`OTEL_EXPORTER_OTLP_${signal}_PROTOCOL`, "OTEL_EXPORTER_OTLP_PROTOCOL"]) {
    const protocol = env[variable]?.trim();
    if (protocol && protocol !== "http/protobuf") {
      throw configError(variable, `${JSON.stringify(protocol)} is not supported; imeifed exports OTLP over http/protobuf (use port 4318 of a collector)`);
    }
  }
  // A signal's own endpoint is used as given; the generic one is a base URL (spec).
  const own = read(env, `OTEL_EXPORTER_OTLP_${signal}_ENDPOINT`, url);
  const base = read(env, "OTEL_EXPORTER_OTLP_ENDPOINT", url);
  const target = own ?? (base ? `${base.replace(/\/+$/, "")}/${path}` : `http://localhost:4318/${path}`);
  const compression =
    read(env, `OTEL_EXPORTER_OTLP_${signal}_COMPRESSION`, lowerCase(["gzip", "none"])) ?? read(env, "OTEL_EXPORTER_OTLP_COMPRESSION", lowerCase(["gzip", "none"])) ?? "none";
  return {
    url: target,
    headers: { ...keyValues(env, "OTEL_EXPORTER_OTLP_HEADERS"), ...keyValues(env, `OTEL_EXPORTER_OTLP_${signal}_HEADERS`) },
    timeoutMillis: read(env, `OTEL_EXPORTER_OTLP_${signal}_TIMEOUT`, positiveInt) ?? read(env, "OTEL_EXPORTER_OTLP_TIMEOUT", positiveInt) ?? 10_000,
    compression,
  };
}

/**
 * Which exporters a signal gets. The spec's default is OTLP, but a process
 * started without any OTEL_* variable must cost nothing, so OTLP is on by
 * default only when an OTLP endpoint is configured.
 */
function exportersOf(env: Environment, signal: "TRACES" | "METRICS"): SignalExporter[] {
  const unsupported = signal === "TRACES" ? "zipkin and jaeger need their own exporters" : "prometheus needs its own exporter";
  const listed = list(env, `OTEL_${signal}_EXPORTER`, ["otlp", "console", "none"], unsupported);
  if (listed) return listed.filter((e): e is SignalExporter => e !== "none");
  const endpoint = env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || env[`OTEL_EXPORTER_OTLP_${signal}_ENDPOINT`]?.trim();
  return endpoint ? ["otlp"] : [];
}

/** Validates the OTEL_* variables of `env`; throws FAILED_PRECONDITION naming the first bad variable. */
export function parseTelemetryEnv(env: Environment): TelemetryConfig {
  const traceExporters = exportersOf(env, "TRACES");
  const metricExporters = exportersOf(env, "METRICS");
  const sampler = read(env, "OTEL_TRACES_SAMPLER", lowerCase(["always_on", "always_off", "traceidratio", "parentbased_always_on", "parentbased_always_off", "parentbased_traceidratio"]));
  const ratio = sampler?.endsWith("traceidratio") ? read(env, "OTEL_TRACES_SAMPLER_ARG", z.coerce.number().min(0).max(1)) : undefined;
  return {
    disabled: read(env, "OTEL_SDK_DISABLED", lowerCase(["true", "false"])) === "true",
    serviceName: read(env, "OTEL_SERVICE_NAME", z.string()),
    resourceAttributes: keyValues(env, "OTEL_RESOURCE_ATTRIBUTES"),
    traces: {
      exporters: traceExporters,
      // Only build a target (and validate its variables) for a signal that exports over OTLP.
      otlp: traceExporters.includes("otlp") ? otlpTarget(env, "TRACES") : { url: "", headers: {}, timeoutMillis: 0, compression: "none" },
      sampler: sampler ?? "parentbased_always_on",
      samplerRatio: ratio ?? 1,
    },
    metrics: {
      exporters: metricExporters,
      otlp: metricExporters.includes("otlp") ? otlpTarget(env, "METRICS") : { url: "", headers: {}, timeoutMillis: 0, compression: "none" },
      intervalMillis: read(env, "OTEL_METRIC_EXPORT_INTERVAL", positiveInt) ?? 60_000,
      timeoutMillis: read(env, "OTEL_METRIC_EXPORT_TIMEOUT", positiveInt) ?? 30_000,
      temporality: read(env, "OTEL_EXPORTER_OTLP_METRICS_TEMPORALITY_PREFERENCE", lowerCase(["cumulative", "delta", "lowmemory"])) ?? "cumulative",
    },
    batch: {
      scheduledDelayMillis: read(env, "OTEL_BSP_SCHEDULE_DELAY", nonNegativeInt) ?? 5_000,
      maxQueueSize: read(env, "OTEL_BSP_MAX_QUEUE_SIZE", positiveInt) ?? 2_048,
      maxExportBatchSize: read(env, "OTEL_BSP_MAX_EXPORT_BATCH_SIZE", positiveInt) ?? 512,
      exportTimeoutMillis: read(env, "OTEL_BSP_EXPORT_TIMEOUT", positiveInt) ?? 30_000,
    },
    propagators: (list(env, "OTEL_PROPAGATORS", ["tracecontext", "baggage", "none"], "only W3C propagation is built in") ?? ["tracecontext", "baggage"]).filter(
      (p): p is "tracecontext" | "baggage" => p !== "none",
    ),
    diagLevel: read(env, "OTEL_LOG_LEVEL", lowerCase(["none", "error", "warn", "info", "debug", "verbose", "all"])) ?? "warn",
  };
}
