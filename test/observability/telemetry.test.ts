import assert from "node:assert/strict";
import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import { once } from "node:events";
import { gunzipSync } from "node:zlib";
import type { AddressInfo } from "node:net";
import { trace } from "@opentelemetry/api";
import { startInMemoryTelemetry } from "../../observability/in-memory-telemetry.js";
import { Verdict } from "../../gen/imeifed/v1/federation_pb.js";
import { mask } from "../../device/index.js";
import { Code, ImeifedError } from "../../errors/index.js";
import { metrics, parseTelemetryEnv, startTelemetry, createLogger } from "../../observability/index.js";

const IMEI = "490154203237518";

/** A stand-in OTLP/HTTP collector on a loopback port that keeps what it receives. */
async function startCollector() {
  const received: Array<{ path: string; headers: IncomingHttpHeaders; body: Buffer }> = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks);
      received.push({ path: req.url ?? "", headers: req.headers, body: req.headers["content-encoding"] === "gzip" ? gunzipSync(raw) : raw });
      // An empty ExportServiceResponse is a zero-length protobuf message.
      res.writeHead(200, { "content-type": "application/x-protobuf" }).end();
    });
  });
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return { received, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => new Promise<void>((r) => server.close(() => r())) };
}

function configErrorOf(env: Record<string, string>): ImeifedError {
  try {
    parseTelemetryEnv(env);
  } catch (error) {
    assert.ok(error instanceof ImeifedError);
    return error;
  }
  assert.fail(`${JSON.stringify(env)} was accepted`);
}

describe("telemetry", () => {
  describe("reading OTEL_* variables", () => {
    it("exports nothing when no variable is set", () => {
      const config = parseTelemetryEnv({});
      assert.deepEqual(config.traces.exporters, []);
      assert.deepEqual(config.metrics.exporters, []);
    });

    it("exports traces and metrics over OTLP when an endpoint is set, under the signal paths of the base URL", () => {
      const config = parseTelemetryEnv({ OTEL_EXPORTER_OTLP_ENDPOINT: "http://collector:4318/", OTEL_EXPORTER_OTLP_HEADERS: "api-key=a%20b, tenant=gb" });
      assert.deepEqual(config.traces.exporters, ["otlp"]);
      assert.deepEqual(config.metrics.exporters, ["otlp"]);
      assert.equal(config.traces.otlp.url, "http://collector:4318/v1/traces");
      assert.equal(config.metrics.otlp.url, "http://collector:4318/v1/metrics");
      assert.deepEqual(config.traces.otlp.headers, { "api-key": "a b", tenant: "gb" });
    });

    it("uses a signal's own endpoint as given, and lets OTEL_*_EXPORTER choose per signal", () => {
      const config = parseTelemetryEnv({
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: "https://traces.example/ingest",
        OTEL_METRICS_EXPORTER: "none",
        OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: "gzip",
      });
      assert.deepEqual(config.traces.exporters, ["otlp"]);
      assert.equal(config.traces.otlp.url, "https://traces.example/ingest");
      assert.equal(config.traces.otlp.compression, "gzip");
      assert.deepEqual(config.metrics.exporters, []);
      assert.equal(parseTelemetryEnv({ OTEL_TRACES_EXPORTER: "otlp" }).traces.otlp.url, "http://localhost:4318/v1/traces", "the spec's default endpoint");
    });

    it("reads the sampler, the batch queue and the metric interval", () => {
      const config = parseTelemetryEnv({ OTEL_TRACES_SAMPLER: "parentbased_traceidratio", OTEL_TRACES_SAMPLER_ARG: "0.25", OTEL_BSP_SCHEDULE_DELAY: "200", OTEL_METRIC_EXPORT_INTERVAL: "15000" });
      assert.equal(config.traces.sampler, "parentbased_traceidratio");
      assert.equal(config.traces.samplerRatio, 0.25);
      assert.equal(config.batch.scheduledDelayMillis, 200);
      assert.equal(config.metrics.intervalMillis, 15000);
    });

    for (const [env, variable] of [
      [{ OTEL_EXPORTER_OTLP_ENDPOINT: "http://c:4317", OTEL_EXPORTER_OTLP_PROTOCOL: "grpc" }, "OTEL_EXPORTER_OTLP_PROTOCOL"],
      [{ OTEL_TRACES_EXPORTER: "jaeger" }, "OTEL_TRACES_EXPORTER"],
      [{ OTEL_METRICS_EXPORTER: "prometheus" }, "OTEL_METRICS_EXPORTER"],
      [{ OTEL_EXPORTER_OTLP_ENDPOINT: "collector:4318" }, "OTEL_EXPORTER_OTLP_ENDPOINT"],
      [{ OTEL_METRIC_EXPORT_INTERVAL: "soon" }, "OTEL_METRIC_EXPORT_INTERVAL"],
      [{ OTEL_TRACES_SAMPLER: "traceidratio", OTEL_TRACES_SAMPLER_ARG: "2" }, "OTEL_TRACES_SAMPLER_ARG"],
      [{ OTEL_PROPAGATORS: "b3" }, "OTEL_PROPAGATORS"],
      [{ OTEL_TRACES_EXPORTER: "otlp", OTEL_EXPORTER_OTLP_HEADERS: "novalue" }, "OTEL_EXPORTER_OTLP_HEADERS"],
    ] as const) {
      it(`refuses ${JSON.stringify(env)} at start, naming ${variable}`, () => {
        const error = configErrorOf(env);
        assert.equal(error.code, Code.FAILED_PRECONDITION);
        assert.equal(error.reason, "TELEMETRY_CONFIG");
        assert.ok(error.message.startsWith(`${variable}: `), error.message);
      });
    }
  });

  describe("starting", () => {
    it("installs nothing without variables: spans do not record and metrics stay silent", async () => {
      const telemetry = await startTelemetry({ serviceName: "imeifed-test", env: {} });
      try {
        assert.equal(telemetry.tracing, false);
        assert.equal(telemetry.metrics, false);
        const span = trace.getTracer("test").startSpan("nothing");
        assert.equal(span.isRecording(), false);
        span.end();
        // A second start is allowed: nothing is running.
        await (await startTelemetry({ serviceName: "imeifed-test", env: {} })).shutdown();
      } finally {
        await telemetry.shutdown();
      }
    });

    it("installs nothing when OTEL_SDK_DISABLED is true, even with an endpoint", async () => {
      const telemetry = await startTelemetry({ serviceName: "imeifed-test", env: { OTEL_SDK_DISABLED: "true", OTEL_EXPORTER_OTLP_ENDPOINT: "http://127.0.0.1:9" } });
      assert.equal(telemetry.tracing, false);
      await telemetry.shutdown();
    });

    it("refuses a second start while one runs, and starts again after shutdown", async () => {
      const first = await startInMemoryTelemetry();
      await assert.rejects(startInMemoryTelemetry(), (e: ImeifedError) => e.reason === "TELEMETRY_RUNNING");
      await first.shutdown();
      const second = await startInMemoryTelemetry();
      trace.getTracer("test").startSpan("after restart").end();
      assert.deepEqual(second.spans().map((s) => s.name), ["after restart"]);
      await second.shutdown();
    });

    it("exports spans and metrics over OTLP http/protobuf to the configured collector, IMEIs masked, on shutdown", async () => {
      const collector = await startCollector();
      try {
        const telemetry = await startTelemetry({
          serviceName: "imeifed-registry-gb",
          env: {
            OTEL_EXPORTER_OTLP_ENDPOINT: collector.url,
            OTEL_EXPORTER_OTLP_HEADERS: "x-pilot=gb%20team",
            OTEL_EXPORTER_OTLP_TRACES_COMPRESSION: "gzip",
            OTEL_RESOURCE_ATTRIBUTES: "deployment.environment=pilot",
          },
        });
        assert.equal(telemetry.tracing, true);
        assert.equal(telemetry.metrics, true);
        const span = trace.getTracer("test").startSpan("imeifed.v1.RegistryService/CheckDevice");
        span.setAttribute("forgotten.imei", IMEI);
        span.end();
        metrics.lookup(Verdict.PROHIBITED);
        await telemetry.shutdown();

        const traces = collector.received.find((r) => r.path === "/v1/traces");
        const exported = collector.received.find((r) => r.path === "/v1/metrics");
        assert.ok(traces, `no traces among ${collector.received.map((r) => r.path).join(", ")}`);
        assert.ok(exported, "no metrics");
        for (const request of [traces, exported]) {
          assert.equal(request.headers["content-type"], "application/x-protobuf");
          assert.equal(request.headers["x-pilot"], "gb team");
        }
        assert.equal(traces.headers["content-encoding"], "gzip");
        const body = traces.body.toString("latin1");
        assert.ok(body.includes("imeifed.v1.RegistryService/CheckDevice"));
        assert.ok(body.includes("imeifed-registry-gb"), "the service name is in the resource");
        assert.ok(body.includes("pilot"), "OTEL_RESOURCE_ATTRIBUTES are in the resource");
        assert.ok(body.includes(mask(IMEI)) && !body.includes(IMEI.slice(0, 14)), "the IMEI left the process unmasked");
        assert.ok(exported.body.toString("latin1").includes("imeifed.lookups"));
      } finally {
        await collector.close();
      }
    });

    it("reports a collector it cannot reach through the logger, without failing the process", async () => {
      const collector = await startCollector();
      const url = collector.url;
      await collector.close(); // nothing listens there any more
      const lines: string[] = [];
      const logger = createLogger("imeifed-test", { write: (l) => lines.push(l) });
      const telemetry = await startTelemetry({ serviceName: "imeifed-test", env: { OTEL_TRACES_EXPORTER: "otlp", OTEL_EXPORTER_OTLP_ENDPOINT: url, OTEL_EXPORTER_OTLP_TIMEOUT: "300", OTEL_METRICS_EXPORTER: "none" }, logger });
      trace.getTracer("test").startSpan("lost").end();
      await telemetry.shutdown();
      assert.ok(lines.some((l) => JSON.parse(l).level === "error" || JSON.parse(l).level === "warn"), `nothing logged: ${lines.join("\n")}`);
    });
  });
});
