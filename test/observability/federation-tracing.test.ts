/**
 * The real gateway in front of two real registries, wired as a process would
 * be: serverTracing() first on every server, clientTracing() on the gateway's
 * upstream channels, the process's `metrics` handed to the gateway.
 */
import assert from "node:assert/strict";
import { SpanKind } from "@opentelemetry/api";
import type { ReadableSpan } from "@opentelemetry/sdk-trace-base";
import { Verdict } from "../../gen/imeifed/v1/federation_pb.js";
import { clientTracing, METRIC, METRIC_ATTRIBUTE, metrics, RPC_ATTRIBUTE, serverTracing } from "../../observability/index.js";
import { startInMemoryTelemetry, type InMemoryTelemetry } from "../../observability/in-memory-telemetry.js";
import { startTestRegistry, type TestRegistry } from "../support/registry-fixture.js";
import { createTestTrust, type TestTrust } from "../support/trust-fixture.js";
import { startTestGateway, type TestGateway } from "../gateway/support/test-gateway.js";
import { waitFor } from "../support/waiting.js";

const STOLEN = "35693803777001"; // a 14-digit device key, reported in ES
const COUNTRIES = ["ES", "JP"];

describe("tracing a lookup across the gateway and the registries", () => {
  let telemetry: InMemoryTelemetry;
  let trust: TestTrust;
  const registries: TestRegistry[] = [];
  let gw: TestGateway;

  before(async () => {
    telemetry = await startInMemoryTelemetry();
    trust = await createTestTrust();
    for (const country of COUNTRIES) {
      registries.push(await startTestRegistry({ country, trust, interceptors: [serverTracing()], ...(country === "ES" ? { seed: [{ imeis: [STOLEN] }] } : {}) }));
    }
    gw = await startTestGateway({
      trust,
      registries: registries.map((r) => ({ country: r.registry.country, address: r.registry.address })),
      outerInterceptors: [serverTracing()],
      clientInterceptors: [clientTracing()],
      metrics,
    });
  });
  after(async () => {
    await gw?.shutdown();
    for (const r of registries) await r.cleanup();
    await trust?.cleanup();
    await telemetry?.shutdown();
  });

  it("puts each registry's SERVER span under the gateway's CLIENT span, under the gateway's Lookup SERVER span, in one trace", async () => {
    telemetry.reset();
    const answer = await gw.client("police-es").lookup({ imei: STOLEN, purpose: "case ES-1" });
    assert.equal(answer.verdict, Verdict.PROHIBITED);
    const lookup = await waitFor("the spans", () => telemetry.spans().find((s) => s.kind === SpanKind.SERVER && s.name === "imeifed.v1.FederationService/Lookup"));
    const traceId = lookup.spanContext().traceId;
    const inTrace = () => telemetry.spans().filter((s) => s.spanContext().traceId === traceId);
    // One registry SERVER span per country, each under a CLIENT span of the gateway.
    await waitFor("the spans", () => (inTrace().filter((s) => s.kind === SpanKind.SERVER).length === 1 + COUNTRIES.length ? true : undefined));
    const spans = inTrace();
    const byId = new Map(spans.map((s) => [s.spanContext().spanId, s]));
    const registryServers = spans.filter((s) => s.kind === SpanKind.SERVER && s.name.startsWith("imeifed.v1.RegistryService/"));
    assert.equal(registryServers.length, COUNTRIES.length, tree(spans));
    const ports = new Set<unknown>();
    for (const server of registryServers) {
      const client = byId.get(server.parentSpanContext?.spanId ?? "");
      assert.ok(client, `the parent of ${server.name} is not in the trace:\n${tree(spans)}`);
      assert.equal(client.kind, SpanKind.CLIENT);
      assert.equal(client.name, server.name, "the CLIENT and SERVER spans name the same method");
      assert.equal(client.parentSpanContext?.spanId, lookup.spanContext().spanId, `the CLIENT span is not under the Lookup span:\n${tree(spans)}`);
      ports.add(client.attributes[RPC_ATTRIBUTE.serverPort]);
    }
    assert.deepEqual(ports, new Set(registries.map((r) => Number(r.registry.address.split(":")[1]))), "one CLIENT span per registry, naming its port");
    assert.equal(lookup.attributes[RPC_ATTRIBUTE.callerId], "police-es");
    const everything = JSON.stringify(spans.map((s) => [s.name, s.attributes, s.events]));
    assert.ok(!everything.includes(STOLEN), "an unmasked device key reached a span");
  });

  it("counts the lookup by verdict, the cache misses and the upstream latency per registry", async () => {
    const points = await telemetry.points(METRIC.lookups);
    assert.ok(points.some((p) => p.attributes[METRIC_ATTRIBUTE.verdict] === "prohibited" && Number(p.value) >= 1), JSON.stringify(points));
    const latency = await telemetry.points(METRIC.upstreamDuration);
    for (const country of COUNTRIES) {
      assert.ok(latency.some((p) => p.attributes[METRIC_ATTRIBUTE.country] === country && p.attributes[METRIC_ATTRIBUTE.upstreamOutcome] === "ok"), `no latency for ${country}: ${JSON.stringify(latency)}`);
    }
    const cache = await telemetry.points(METRIC.cacheRequests);
    assert.ok(cache.some((p) => p.attributes[METRIC_ATTRIBUTE.cacheResult] === "miss"), JSON.stringify(cache));
  });
});

function tree(spans: ReadableSpan[]): string {
  return spans.map((s) => `${SpanKind[s.kind]} ${s.name} id=${s.spanContext().spanId} parent=${s.parentSpanContext?.spanId ?? "-"}`).join("\n");
}
