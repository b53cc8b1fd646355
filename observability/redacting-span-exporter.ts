/**
 * Wraps a span exporter so that no IMEI leaves the process unmasked in a span
 * name, attribute, event or status message, even when a handler forgot to
 * call `mask()` before annotating a span.
 */
import type { Attributes, AttributeValue } from "@opentelemetry/api";
import type { ExportResult } from "@opentelemetry/core";
import type { ReadableSpan, SpanExporter, TimedEvent } from "@opentelemetry/sdk-trace-base";
import { redactImeis } from "./imei-redaction.js";

function redactValue(value: AttributeValue | undefined): AttributeValue | undefined {
  if (typeof value === "string") return redactImeis(value);
  if (Array.isArray(value)) {
    let changed = false;
    const out = value.map((item) => {
      if (typeof item !== "string") return item;
      const redacted = redactImeis(item);
      if (redacted !== item) changed = true;
      return redacted;
    });
    return changed ? (out as AttributeValue) : value;
  }
  return value;
}

/** The same attributes object when nothing needed masking, so clean spans are not copied. */
function redactAttributes(attributes: Attributes): Attributes {
  let out: Attributes | undefined;
  for (const [key, value] of Object.entries(attributes)) {
    const redacted = redactValue(value);
    if (redacted !== value) {
      out ??= { ...attributes };
      out[key] = redacted;
    }
  }
  return out ?? attributes;
}

function redactEvents(events: TimedEvent[]): TimedEvent[] {
  let changed = false;
  const out = events.map((event) => {
    const name = redactImeis(event.name);
    const attributes = event.attributes ? redactAttributes(event.attributes) : undefined;
    if (name === event.name && attributes === event.attributes) return event;
    changed = true;
    return { ...event, name, ...(attributes ? { attributes } : {}) };
  });
  return changed ? out : events;
}

/** A masked view of `span`, or `span` itself when it holds nothing IMEI-like. */
export function redactSpan(span: ReadableSpan): ReadableSpan {
  const name = redactImeis(span.name);
  const attributes = redactAttributes(span.attributes);
  const events = redactEvents(span.events);
  const message = span.status.message === undefined ? undefined : redactImeis(span.status.message);
  if (name === span.name && attributes === span.attributes && events === span.events && message === span.status.message) return span;
  // ReadableSpan is an interface over the SDK's Span class; copy each field it
  // declares (some are getters) rather than spreading the instance.
  return {
    name,
    kind: span.kind,
    spanContext: () => span.spanContext(),
    parentSpanContext: span.parentSpanContext,
    startTime: span.startTime,
    endTime: span.endTime,
    status: message === undefined ? span.status : { ...span.status, message },
    attributes,
    links: span.links,
    events,
    duration: span.duration,
    ended: span.ended,
    resource: span.resource,
    instrumentationScope: span.instrumentationScope,
    droppedAttributesCount: span.droppedAttributesCount,
    droppedEventsCount: span.droppedEventsCount,
    droppedLinksCount: span.droppedLinksCount,
  };
}

/** Masks IMEIs in every span before handing it to `inner`. */
export class RedactingSpanExporter implements SpanExporter {
  constructor(private readonly inner: SpanExporter) {}

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    this.inner.export(spans.map(redactSpan), resultCallback);
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush?.() ?? Promise.resolve();
  }
}
