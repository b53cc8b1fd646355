/**
 * Lets OpenTelemetry propagators read and write W3C trace context
 * (`traceparent`, `tracestate`, `baggage`) in gRPC metadata, which is how a
 * registry's spans join the gateway's trace.
 */
import type { Metadata } from "@grpc/grpc-js";
import type { TextMapGetter, TextMapSetter } from "@opentelemetry/api";

/** Reads text metadata values; binary (`-bin`) values are never trace context. */
export const metadataGetter: TextMapGetter<Metadata> = {
  keys: (carrier) => Object.keys(carrier.getMap()),
  get: (carrier, key) => {
    const values = carrier.get(key).filter((v): v is string => typeof v === "string");
    if (values.length === 0) return undefined;
    return values.length === 1 ? values[0] : values;
  },
};

/** Writes (replacing) one text metadata value. */
export const metadataSetter: TextMapSetter<Metadata> = {
  set: (carrier, key, value) => carrier.set(key, value),
};
