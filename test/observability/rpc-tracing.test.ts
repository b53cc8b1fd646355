import assert from "node:assert/strict";
import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { Code, ImeifedError, invalidArgument } from "../../errors/index.js";
import { mask } from "../../device/index.js";
import { CALLER, type Caller } from "../../trust/principal.js";
import type { ServerInterceptor } from "../../rpc/index.js";
import { DEVICE_ATTRIBUTE, RPC_ATTRIBUTE, TRACER_NAME } from "../../observability/index.js";
import { startInMemoryTelemetry, type InMemoryTelemetry } from "../../observability/in-memory-telemetry.js";
import { startTracedPair, type TracedPair } from "./traced-pair.js";
import { eventually } from "../support/waiting.js";

const IMEI = "490154203237518";
const LOOKUP = "imeifed.v1.FederationService/Lookup";
const CHECK = "imeifed.v1.RegistryService/CheckDevice";

function only(spans: ReadableSpan[], name: string, kind: SpanKind): ReadableSpan {
  const found = spans.filter((s) => s.name === name && s.kind === kind);
  assert.equal(found.length, 1, `expected one ${SpanKind[kind]} span ${name}, got ${found.length} among ${spans.map((s) => `${SpanKind[s.kind]} ${s.name}`).join(", ")}`);
  return found[0]!;
}

/** The three spans of one lookup: partner -> upstream SERVER -> CLIENT -> downstream SERVER. */
function lookupSpans(telemetry: InMemoryTelemetry) {
  const spans = telemetry.spans();
  return {
    spans,
    upstream: only(spans, LOOKUP, SpanKind.SERVER),
    client: only(spans, CHECK, SpanKind.CLIENT),
    downstream: only(spans, CHECK, SpanKind.SERVER),
  };
}

describe("RPC tracing across servers", () => {
  let telemetry: InMemoryTelemetry;
  let pair: TracedPair;
  /** Stands in for the authenticator: it runs after tracing and names the caller. */
  let caller: Caller | undefined;
  const fakeAuthentication: ServerInterceptor = async (ctx, next) => {
    if (caller) ctx.values.set(CALLER, caller);
    await next();
  };

  before(async () => {
    telemetry = await startInMemoryTelemetry();
    pair = await startTracedPair([fakeAuthentication]);
  });
  after(async () => {
    await pair.close();
    await telemetry.shutdown();
  });
  beforeEach(() => {
    telemetry.reset();
    pair.onCheck = () => {};
    caller = undefined;
  });

  it("makes the registry's SERVER span a child of the gateway's CLIENT span, itself a child of the gateway's SERVER span, in one trace", async () => {
    await pair.partner.lookup({ imei: IMEI, purpose: "case 1" });
    await eventually("3 spans", () => telemetry.spans().length >= 3); // the server spans end just after the client has its answer
    const { spans, upstream, client, downstream } = lookupSpans(telemetry);
    assert.equal(spans.length, 3);
    const traceId = upstream.spanContext().traceId;
    for (const span of [client, downstream]) assert.equal(span.spanContext().traceId, traceId, `${span.name} is in another trace`);
    assert.equal(upstream.parentSpanContext, undefined, "an untraced partner starts the trace at the gateway");
    assert.equal(client.parentSpanContext?.spanId, upstream.spanContext().spanId);
    assert.equal(downstream.parentSpanContext?.spanId, client.spanContext().spanId);
    assert.equal(downstream.parentSpanContext?.isRemote, true, "the registry learned its parent from metadata");
  });

  it("describes each call with the RPC semantic conventions and the peer's address", async () => {
    await pair.partner.lookup({ imei: IMEI, purpose: "case 1" });
    await eventually("3 spans", () => telemetry.spans().length >= 3); // the server spans end just after the client has its answer
    const { upstream, client, downstream } = lookupSpans(telemetry);
    for (const [span, service, method] of [
      [upstream, "imeifed.v1.FederationService", "Lookup"],
      [client, "imeifed.v1.RegistryService", "CheckDevice"],
      [downstream, "imeifed.v1.RegistryService", "CheckDevice"],
    ] as const) {
      assert.equal(span.attributes[RPC_ATTRIBUTE.system], "grpc");
      assert.equal(span.attributes[RPC_ATTRIBUTE.service], service);
      assert.equal(span.attributes[RPC_ATTRIBUTE.method], method);
      assert.equal(span.attributes[RPC_ATTRIBUTE.statusCode], 0);
      assert.equal(span.attributes[RPC_ATTRIBUTE.networkPeerAddress], "127.0.0.1", `${SpanKind[span.kind]} ${span.name} has no peer address`);
      assert.equal(typeof span.attributes[RPC_ATTRIBUTE.networkPeerPort], "number");
      assert.equal(span.status.code, SpanStatusCode.UNSET);
      assert.equal(span.instrumentationScope.name, TRACER_NAME);
    }
    assert.equal(client.attributes[RPC_ATTRIBUTE.serverPort], pair.downstream.port, "the client span names the registry it called");
    assert.equal(client.attributes[RPC_ATTRIBUTE.netPeerPort], pair.downstream.port);
  });

  it("names the device by its masked IMEI only, on every span", async () => {
    await pair.partner.lookup({ imei: IMEI, purpose: "case 1" });
    await eventually("3 spans", () => telemetry.spans().length >= 3); // the server spans end just after the client has its answer
    const { spans, upstream, downstream } = lookupSpans(telemetry);
    assert.equal(upstream.attributes[DEVICE_ATTRIBUTE], mask(IMEI));
    assert.equal(downstream.attributes[DEVICE_ATTRIBUTE], mask(IMEI));
    const everything = JSON.stringify(spans.map((s) => ({ name: s.name, attributes: s.attributes, events: s.events, status: s.status })));
    assert.ok(!everything.includes(IMEI.slice(0, 14)), "an unmasked IMEI reached a span");
  });

  it("continues a partner's trace from the traceparent it sends", async () => {
    const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
    const parentId = "00f067aa0ba902b7";
    await pair.partner.lookup({ imei: IMEI, purpose: "case 1" }, { metadata: { traceparent: `00-${traceId}-${parentId}-01`, tracestate: "pilot=gb" } });
    await eventually("3 spans", () => telemetry.spans().length >= 3); // the server spans end just after the client has its answer
    const { upstream, downstream } = lookupSpans(telemetry);
    assert.equal(upstream.spanContext().traceId, traceId);
    assert.equal(upstream.parentSpanContext?.spanId, parentId);
    assert.equal(upstream.spanContext().traceState?.get("pilot"), "gb", "tracestate is carried too");
    assert.equal(downstream.spanContext().traceId, traceId);
    assert.equal(downstream.spanContext().traceState?.get("pilot"), "gb");
  });

  it("ignores a malformed traceparent and starts a fresh trace", async () => {
    await pair.partner.lookup({ imei: IMEI, purpose: "case 1" }, { metadata: { traceparent: "00-not-a-trace-01" } });
    await eventually("3 spans", () => telemetry.spans().length >= 3); // the server spans end just after the client has its answer
    const { upstream, downstream } = lookupSpans(telemetry);
    assert.equal(upstream.parentSpanContext, undefined);
    assert.ok(trace.isSpanContextValid(upstream.spanContext()));
    assert.equal(downstream.spanContext().traceId, upstream.spanContext().traceId);
  });

  it("marks a refused upstream call as an error on the client span but not on the server spans (the caller's mistake)", async () => {
    pair.onCheck = () => {
      throw invalidArgument("imei", "IMEI_CHECK_DIGIT", "refused for the test");
    };
    await assert.rejects(pair.partner.lookup({ imei: IMEI, purpose: "case 1" }), (e: ImeifedError) => e.code === Code.INVALID_ARGUMENT);
    await eventually("3 spans", () => telemetry.spans().length >= 3); // the server spans end just after the client has its answer
    const { upstream, client, downstream } = lookupSpans(telemetry);
    assert.equal(downstream.attributes[RPC_ATTRIBUTE.statusCode], Code.INVALID_ARGUMENT);
    assert.equal(downstream.attributes[RPC_ATTRIBUTE.errorReason], "IMEI_CHECK_DIGIT");
    assert.equal(downstream.status.code, SpanStatusCode.UNSET);
    assert.equal(client.attributes[RPC_ATTRIBUTE.statusCode], Code.INVALID_ARGUMENT);
    assert.equal(client.attributes[RPC_ATTRIBUTE.errorReason], "IMEI_CHECK_DIGIT", "the reason travels back in the trailer");
    assert.equal(client.status.code, SpanStatusCode.ERROR);
    assert.equal(upstream.attributes[RPC_ATTRIBUTE.statusCode], Code.INVALID_ARGUMENT);
    assert.equal(upstream.status.code, SpanStatusCode.UNSET);
  });

  it("records an internal failure on the server span, with its cause for the operator and the IMEI masked", async () => {
    pair.onCheck = (imei) => {
      throw new Error(`disk full while reading ${imei}`);
    };
    await assert.rejects(pair.partner.lookup({ imei: IMEI, purpose: "case 1" }), (e: ImeifedError) => e.code === Code.INTERNAL && e.message === "internal error");
    await eventually("3 spans", () => telemetry.spans().length >= 3); // the server spans end just after the client has its answer
    const { downstream, client } = lookupSpans(telemetry);
    assert.equal(downstream.status.code, SpanStatusCode.ERROR);
    assert.equal(downstream.attributes[RPC_ATTRIBUTE.statusCode], Code.INTERNAL);
    const exception = downstream.events.find((e) => e.name === "exception");
    assert.ok(exception, "the exception is recorded");
    assert.equal(exception.attributes?.["exception.message"], `disk full while reading ${mask(IMEI)}`);
    assert.equal(client.status.code, SpanStatusCode.ERROR);
  });

  it("traces a server stream until its last message", async () => {
    const tracer = trace.getTracer("test");
    const received = await tracer.startActiveSpan("operator action", async (root) => {
      let n = 0;
      for await (const _ of pair.registry.watchChanges({ afterSequence: 0n })) n++;
      root.end();
      return n;
    });
    assert.equal(received, 3);
    await eventually("3 spans", () => telemetry.spans().length >= 3); // the server spans end just after the client has its answer
    const spans = telemetry.spans();
    const root = only(spans, "operator action", SpanKind.INTERNAL);
    const client = only(spans, "imeifed.v1.RegistryService/WatchChanges", SpanKind.CLIENT);
    const server = only(spans, "imeifed.v1.RegistryService/WatchChanges", SpanKind.SERVER);
    assert.equal(client.parentSpanContext?.spanId, root.spanContext().spanId);
    assert.equal(server.parentSpanContext?.spanId, client.spanContext().spanId);
    assert.equal(client.attributes[RPC_ATTRIBUTE.statusCode], 0);
    assert.equal(server.attributes[RPC_ATTRIBUTE.statusCode], 0);
  });

  it("names the verified caller and the partner it acts for", async () => {
    caller = {
      principal: { id: "gateway", name: "Gateway", country: "EU", kind: "gateway", scopes: ["devices:check"], tacPrefixes: [] },
      scopes: new Set(["devices:check"]),
      actor: { id: "police-es", kind: "police", country: "ES" },
      expiresAt: Math.floor(Date.now() / 1000) + 300,
    };
    await pair.partner.lookup({ imei: IMEI, purpose: "case 1" });
    await eventually("3 spans", () => telemetry.spans().length >= 3); // the server spans end just after the client has its answer
    const { upstream } = lookupSpans(telemetry);
    assert.equal(upstream.attributes[RPC_ATTRIBUTE.callerId], "gateway");
    assert.equal(upstream.attributes[RPC_ATTRIBUTE.requesterId], "police-es");
  });
});
