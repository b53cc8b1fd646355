/**
 * Structured logs: one JSON object per line on stderr, with the trace and
 * span id of the active span, so an operator can go from a log line to the
 * trace of the call that wrote it (and back).
 */
import { trace, type SpanContext } from "@opentelemetry/api";
import { z } from "zod";
import { redactImeis } from "./imei-redaction.js";

export const LOG_LEVELS = ["debug", "info", "warn", "error", "silent"] as const;
/** A logger's threshold; `silent` writes nothing. */
export type LogLevel = (typeof LOG_LEVELS)[number];
/** For config schemas: `level: logLevelSchema.default("info")`. */
export const logLevelSchema = z.enum(LOG_LEVELS);

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: Infinity };

/** Extra fields of a log line. IMEI-like strings in them are masked before writing. */
export type LogFields = Readonly<Record<string, unknown>>;

/** What modules log through; created once per process (or per component with `child`). */
export interface Logger {
  readonly level: LogLevel;
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** Whether `level` would be written, to skip building costly fields. */
  enabled(level: Exclude<LogLevel, "silent">): boolean;
  /** A logger adding `fields` to every line (for example `{ registry: "GB" }`). */
  child(fields: LogFields): Logger;
  /** Logs with the ids of `spanContext` instead of the active span (for errors reported after their call ended). */
  withTrace(spanContext: SpanContext | undefined): Logger;
}

export interface LoggerOptions {
  /** From the process's validated config; `info` by default. */
  level?: LogLevel;
  /** Where each line goes; stderr by default (tests capture lines here). */
  write?: (line: string) => void;
  /** Fields on every line. */
  fields?: LogFields;
}

/** Keys every line has; fields with the same name are written as `field.<key>` rather than overwriting them. */
const RESERVED = new Set(["time", "level", "msg", "service", "trace_id", "span_id"]);

const MAX_DEPTH = 6;

/** Makes a field value JSON-safe and masks IMEIs in its strings. */
function clean(value: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
  if (typeof value === "string") return redactImeis(value);
  if (typeof value === "bigint") return value.toString();
  if (value === null || typeof value !== "object") return typeof value === "function" || typeof value === "symbol" ? String(value) : value;
  if (seen.has(value)) return "[circular]";
  if (depth >= MAX_DEPTH) return "[too deep]";
  seen.add(value);
  if (value instanceof Error) {
    const described: Record<string, unknown> = { name: value.name, message: clean(value.message), stack: clean(value.stack ?? "") };
    for (const key of ["code", "reason", "field"] as const) {
      const extra = (value as unknown as Record<string, unknown>)[key];
      if (extra !== undefined) described[key] = clean(extra, depth + 1, seen);
    }
    if (value.cause !== undefined) described.cause = clean(value.cause, depth + 1, seen);
    return described;
  }
  if (value instanceof Date) return value.toISOString();
  if (Array.isArray(value)) return value.map((item) => clean(item, depth + 1, seen));
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) out[key] = clean(item, depth + 1, seen);
  return out;
}

function writeToStderr(line: string): void {
  process.stderr.write(`${line}\n`);
}

interface LoggerState {
  readonly service: string;
  readonly threshold: number;
  readonly level: LogLevel;
  readonly write: (line: string) => void;
  readonly fields: LogFields;
  readonly spanContext: SpanContext | undefined;
}

function build(state: LoggerState): Logger {
  const emit = (level: Exclude<LogLevel, "silent">, msg: string, fields?: LogFields) => {
    if (RANK[level] < state.threshold) return;
    const spanContext = state.spanContext ?? trace.getActiveSpan()?.spanContext();
    const line: Record<string, unknown> = { time: new Date().toISOString(), level, msg: redactImeis(msg), service: state.service };
    if (spanContext && trace.isSpanContextValid(spanContext)) {
      line.trace_id = spanContext.traceId;
      line.span_id = spanContext.spanId;
    }
    for (const source of [state.fields, fields]) {
      if (!source) continue;
      for (const [key, value] of Object.entries(source)) line[RESERVED.has(key) ? `field.${key}` : key] = clean(value);
    }
    let text: string;
    try {
      text = JSON.stringify(line);
    } catch {
      // A getter that throws, for instance: still say something.
      text = JSON.stringify({ time: line.time, level, msg: line.msg, service: state.service, note: "fields could not be serialised" });
    }
    state.write(text);
  };
  return {
    level: state.level,
    debug: (msg, fields) => emit("debug", msg, fields),
    info: (msg, fields) => emit("info", msg, fields),
    warn: (msg, fields) => emit("warn", msg, fields),
    error: (msg, fields) => emit("error", msg, fields),
    enabled: (level) => RANK[level] >= state.threshold,
    child: (fields) => build({ ...state, fields: { ...state.fields, ...fields } }),
    withTrace: (spanContext) => build({ ...state, spanContext }),
  };
}

/** Creates the logger of one service (`gateway`, `registry-gb`, `imeifed demo`, ...). */
export function createLogger(service: string, options: LoggerOptions = {}): Logger {
  const level = options.level ?? "info";
  return build({ service, level, threshold: RANK[level], write: options.write ?? writeToStderr, fields: options.fields ?? {}, spanContext: undefined });
}
