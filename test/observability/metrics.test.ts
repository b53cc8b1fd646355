import assert from "node:assert/strict";
import { ScreeningOutcome, Verdict } from "../../gen/imeifed/v1/federation_pb.js";
import type { GatewayMetrics } from "../../gateway/gateway-context.js";
import { Code, ImeifedError } from "../../errors/index.js";
import type { ServerInterceptor } from "../../rpc/index.js";
import { MAX_LABEL_VALUES, METRIC, METRIC_ATTRIBUTE, metrics, type ImeifedMetrics } from "../../observability/index.js";
import { startInMemoryTelemetry, type CollectedPoint, type InMemoryTelemetry } from "../../observability/in-memory-telemetry.js";
import { startTracedPair } from "./traced-pair.js";

const IMEI = "490154203237518";

/** The value of the point whose attributes include `match`. */
function valueOf(points: CollectedPoint[], match: Record<string, string | number>): CollectedPoint["value"] | undefined {
  return points.find((p) => Object.entries(match).every(([k, v]) => p.attributes[k] === v))?.value;
}

/** Compile-time check: the gateway can take `metrics` as its GatewayMetrics as is. */
const _fitsGateway: GatewayMetrics = metrics satisfies ImeifedMetrics;
void _fitsGateway;

describe("metrics", () => {
  describe("with a reader installed", () => {
    let telemetry: InMemoryTelemetry;
    beforeEach(async () => {
      telemetry = await startInMemoryTelemetry();
    });
    afterEach(() => telemetry.shutdown());

    it("counts lookups by verdict", async () => {
      metrics.lookup(Verdict.PROHIBITED);
      metrics.lookup(Verdict.PROHIBITED);
      metrics.lookup(Verdict.UNKNOWN);
      metrics.lookup("PROHIBITED"); // as gateway/verdict.ts's verdictName spells it
      const points = await telemetry.points(METRIC.lookups);
      assert.equal(valueOf(points, { [METRIC_ATTRIBUTE.verdict]: "prohibited" }), 3);
      assert.equal(valueOf(points, { [METRIC_ATTRIBUTE.verdict]: "unknown" }), 1);
      assert.equal(valueOf(points, { [METRIC_ATTRIBUTE.verdict]: "permitted" }), undefined);
    });

    it("counts screened items by outcome, per batch", async () => {
      metrics.screened(ScreeningOutcome.CLEAR, 998);
      metrics.screened(ScreeningOutcome.PROHIBITED);
      metrics.screened(ScreeningOutcome.MODEL_MISMATCH);
      const points = await telemetry.points(METRIC.screeningItems);
      assert.equal(valueOf(points, { [METRIC_ATTRIBUTE.screeningOutcome]: "clear" }), 998);
      assert.equal(valueOf(points, { [METRIC_ATTRIBUTE.screeningOutcome]: "prohibited" }), 1);
      assert.equal(valueOf(points, { [METRIC_ATTRIBUTE.screeningOutcome]: "model_mismatch" }), 1);
    });

    it("counts cache hits and misses, per registry when told which", async () => {
      metrics.cacheHit("GB");
      metrics.cacheHit("GB", 41);
      metrics.cacheMiss("ES", 7);
      metrics.cacheMiss();
      const points = await telemetry.points(METRIC.cacheRequests);
      assert.equal(valueOf(points, { [METRIC_ATTRIBUTE.cacheResult]: "hit", [METRIC_ATTRIBUTE.country]: "GB" }), 42);
      assert.equal(valueOf(points, { [METRIC_ATTRIBUTE.cacheResult]: "miss", [METRIC_ATTRIBUTE.country]: "ES" }), 7);
      const countryless = points.filter((p) => p.attributes[METRIC_ATTRIBUTE.country] === undefined);
      assert.deepEqual(countryless.map((p) => [p.attributes[METRIC_ATTRIBUTE.cacheResult], p.value]), [["miss", 1]]);
    });

    it("records upstream latency per registry and outcome in a histogram", async () => {
      metrics.upstreamLatency("GB", 12, "ok");
      metrics.upstreamLatency("GB", 30, "ok");
      metrics.upstreamLatency("JP", 3_000, "DEADLINE_EXCEEDED");
      const points = await telemetry.points(METRIC.upstreamDuration);
      const gb = valueOf(points, { [METRIC_ATTRIBUTE.country]: "GB", [METRIC_ATTRIBUTE.upstreamOutcome]: "ok" }) as { count: number; sum: number; buckets: { boundaries: number[] } };
      assert.equal(gb.count, 2);
      assert.equal(gb.sum, 42);
      assert.ok(gb.buckets.boundaries.includes(2_500), "millisecond buckets, up to CheckMEND's 3 s advice");
      const jp = valueOf(points, { [METRIC_ATTRIBUTE.country]: "JP", [METRIC_ATTRIBUTE.upstreamOutcome]: "deadline_exceeded" }) as { count: number };
      assert.equal(jp.count, 1);
    });

    it("reports each registry's circuit state as a gauge, 1 for the current state", async () => {
      metrics.circuitState("GB", "open");
      metrics.circuitState("ES", "closed");
      metrics.circuitState("ES", "half-open"); // gateway/circuit-breaker.ts's spelling
      const points = await telemetry.points(METRIC.circuitState);
      const state = (country: string, s: string) => valueOf(points, { [METRIC_ATTRIBUTE.country]: country, [METRIC_ATTRIBUTE.circuitState]: s });
      assert.deepEqual([state("GB", "open"), state("GB", "closed"), state("GB", "half_open")], [1, 0, 0]);
      assert.deepEqual([state("ES", "open"), state("ES", "closed"), state("ES", "half_open")], [0, 0, 1]);
    });

    it("counts auth failures by reason", async () => {
      metrics.authFailure("TOKEN_EXPIRED");
      metrics.authFailure("TOKEN_EXPIRED");
      metrics.authFailure("SCOPE_REQUIRED");
      const points = await telemetry.points(METRIC.authFailures);
      assert.equal(valueOf(points, { [METRIC_ATTRIBUTE.authReason]: "TOKEN_EXPIRED" }), 2);
      assert.equal(valueOf(points, { [METRIC_ATTRIBUTE.authReason]: "SCOPE_REQUIRED" }), 1);
    });

    it("counts the calls refused by any interceptor as auth failures, from the server tracing interceptor", async () => {
      const refuse: ServerInterceptor = async (ctx, next) => {
        const token = ctx.requestMetadata.get("authorization")[0];
        if (token === undefined) throw new ImeifedError(Code.UNAUTHENTICATED, "TOKEN_MISSING", "send authorization: Bearer <token>");
        if (token !== "Bearer ok") throw new ImeifedError(Code.PERMISSION_DENIED, "SCOPE_REQUIRED", "scope devices:check is required");
        await next();
      };
      const pair = await startTracedPair([refuse]);
      try {
        await assert.rejects(pair.partner.lookup({ imei: IMEI, purpose: "case 1" }), (e: ImeifedError) => e.code === Code.UNAUTHENTICATED);
        await assert.rejects(pair.partner.lookup({ imei: IMEI, purpose: "case 1" }, { metadata: { authorization: "Bearer no" } }));
        await pair.partner.lookup({ imei: IMEI, purpose: "case 1" }, { metadata: { authorization: "Bearer ok" } });
      } finally {
        await pair.close();
      }
      const points = await telemetry.points(METRIC.authFailures);
      assert.equal(valueOf(points, { [METRIC_ATTRIBUTE.authReason]: "TOKEN_MISSING" }), 1);
      assert.equal(valueOf(points, { [METRIC_ATTRIBUTE.authReason]: "SCOPE_REQUIRED" }), 1);
      assert.equal(points.length, 2);
    });

    it("keeps free-form labels to a bounded number of series", async () => {
      for (let i = 0; i < MAX_LABEL_VALUES + 10; i++) metrics.upstreamLatency("GB", 1, `REASON_${i}`);
      const points = await telemetry.points(METRIC.upstreamDuration);
      assert.equal(points.length, MAX_LABEL_VALUES + 1);
      assert.equal((valueOf(points, { [METRIC_ATTRIBUTE.upstreamOutcome]: "other" }) as { count: number }).count, 10);
    });

    it("records served and outgoing RPC durations from the tracing interceptors, with the status code", async () => {
      const pair = await startTracedPair();
      try {
        await pair.partner.lookup({ imei: IMEI, purpose: "case 1" });
        await assert.rejects(pair.partner.lookup({ imei: "12345", purpose: "case 1" }));
      } finally {
        await pair.close();
      }
      const server = await telemetry.points(METRIC.rpcServerDuration);
      const client = await telemetry.points(METRIC.rpcClientDuration);
      const count = (points: CollectedPoint[], method: string, code: number) =>
        (valueOf(points, { "rpc.method": method, "rpc.grpc.status_code": code }) as { count: number } | undefined)?.count;
      assert.equal(count(server, "Lookup", 0), 1);
      assert.equal(count(server, "Lookup", 3), 1, "the malformed IMEI failed upstream with INVALID_ARGUMENT");
      assert.equal(count(server, "CheckDevice", 0), 1);
      assert.equal(count(client, "CheckDevice", 0), 1);
      assert.equal(count(client, "CheckDevice", 3), 1);
      assert.equal(valueOf(await telemetry.points(METRIC.lookups), { [METRIC_ATTRIBUTE.verdict]: "prohibited" }), 1, "the handler's own metric");
    });
  });

  describe("without a reader", () => {
    it("accepts every call and records nothing, and a later reader still learns the circuit states", async () => {
      // Calls made while no telemetry runs go nowhere...
      metrics.lookup(Verdict.PROHIBITED);
      metrics.screened(ScreeningOutcome.CLEAR, 10);
      metrics.cacheHit();
      metrics.upstreamLatency("GB", 5, "ok");
      metrics.authFailure("TOKEN_EXPIRED");
      metrics.circuitState("BR", "open");
      const telemetry = await startInMemoryTelemetry();
      try {
        assert.deepEqual(await telemetry.points(METRIC.lookups), []);
        assert.deepEqual(await telemetry.points(METRIC.screeningItems), []);
        // ...except the breaker's state, which is a level, not an event.
        const points = await telemetry.points(METRIC.circuitState);
        assert.equal(valueOf(points, { [METRIC_ATTRIBUTE.country]: "BR", [METRIC_ATTRIBUTE.circuitState]: "open" }), 1);
      } finally {
        await telemetry.shutdown();
      }
      // After shutdown the instruments are detached again.
      metrics.lookup(Verdict.PERMITTED);
    });
  });
});
