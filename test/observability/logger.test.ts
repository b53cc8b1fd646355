import assert from "node:assert/strict";
import { SpanKind, trace } from "@opentelemetry/api";
import { mask } from "../../device/index.js";
import { Code, ImeifedError } from "../../errors/index.js";
import { setInternalErrorSink } from "../../rpc/index.js";
import { createLogger, logInternalErrors, logLevelSchema, type LoggerOptions } from "../../observability/index.js";
import { startInMemoryTelemetry, type InMemoryTelemetry } from "../../observability/in-memory-telemetry.js";
import { startTracedPair, type TracedPair } from "./traced-pair.js";
import { eventually } from "../support/waiting.js";

const IMEI = "490154203237518";

/** A logger writing into an array, and the parsed lines. */
function capture(options: Omit<LoggerOptions, "write"> = {}, service = "registry-gb") {
  const lines: string[] = [];
  const logger = createLogger(service, { ...options, write: (line) => lines.push(line) });
  return { logger, lines, parsed: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe("structured logs", () => {
  it("writes one JSON object per line with time, level, msg, service and the fields", () => {
    const { logger, lines, parsed } = capture();
    logger.info("registry started", { listen: "127.0.0.1:50061", records: 100000 });
    assert.equal(lines.length, 1);
    assert.ok(!lines[0]!.includes("\n"), "one line");
    const [line] = parsed();
    assert.deepEqual(Object.keys(line!).slice(0, 4), ["time", "level", "msg", "service"]);
    assert.equal(line!.level, "info");
    assert.equal(line!.msg, "registry started");
    assert.equal(line!.service, "registry-gb");
    assert.equal(line!.listen, "127.0.0.1:50061");
    assert.equal(line!.records, 100000);
    assert.ok(!Number.isNaN(Date.parse(String(line!.time))));
    assert.equal(line!.trace_id, undefined, "no trace id outside a span");
  });

  it("writes only the levels at or above the configured one", () => {
    const { logger, parsed } = capture({ level: "warn" });
    logger.debug("d");
    logger.info("i");
    logger.warn("w");
    logger.error("e");
    assert.deepEqual(parsed().map((l) => l.level), ["warn", "error"]);
    assert.equal(logger.enabled("info"), false);
    assert.equal(logger.enabled("error"), true);
    const silent = capture({ level: "silent" });
    silent.logger.error("nothing");
    assert.equal(silent.lines.length, 0);
    assert.equal(logLevelSchema.safeParse("verbose").success, false, "a config with an unknown level is refused at start");
  });

  it("masks IMEIs a caller forgot to mask, in the message and in nested fields", () => {
    const { logger, lines } = capture();
    logger.warn(`odd device ${IMEI}`, { batch: [{ imei: "35-209900-176148-1" }], key: IMEI.slice(0, 14) });
    assert.ok(!lines[0]!.includes(IMEI.slice(0, 14)), lines[0]);
    assert.ok(!lines[0]!.includes("176148"), lines[0]);
    const line = JSON.parse(lines[0]!);
    assert.equal(line.msg, `odd device ${mask(IMEI)}`);
    assert.equal(line.key, mask(IMEI.slice(0, 14)));
  });

  it("serialises errors, bigints and cycles, and never lets a field overwrite the line's own keys", () => {
    const { logger, parsed } = capture();
    const cyclic: Record<string, unknown> = { name: "loop" };
    cyclic.self = cyclic;
    const error = new ImeifedError(Code.UNAVAILABLE, "STORE_UNAVAILABLE", "registry GB did not answer", { cause: new Error("ECONNREFUSED") });
    logger.error("upstream failed", { error, sequence: 12n, cyclic, msg: "spoofed", level: "debug" });
    const [line] = parsed();
    assert.equal(line!.msg, "upstream failed");
    assert.equal(line!.level, "error");
    assert.equal(line!["field.msg"], "spoofed");
    assert.equal(line!.sequence, "12");
    assert.deepEqual((line!.cyclic as Record<string, unknown>).self, "[circular]");
    const logged = line!.error as Record<string, unknown>;
    assert.equal(logged.reason, "STORE_UNAVAILABLE");
    assert.equal(logged.code, Code.UNAVAILABLE);
    assert.equal((logged.cause as Record<string, unknown>).message, "ECONNREFUSED");
  });

  it("adds a child's fields to every line", () => {
    const { logger, parsed } = capture();
    logger.child({ registry: "GB" }).child({ link: 2 }).info("breaker opened");
    const [line] = parsed();
    assert.equal(line!.registry, "GB");
    assert.equal(line!.link, 2);
  });

  describe("inside traced calls", () => {
    let telemetry: InMemoryTelemetry;
    let pair: TracedPair;
    before(async () => {
      telemetry = await startInMemoryTelemetry();
      pair = await startTracedPair();
    });
    after(async () => {
      // Put back a sink like rpc/status.ts's own, for the test files that follow.
      setInternalErrorSink((error, where) => console.error(JSON.stringify({ level: "error", msg: "internal error", where, error: String((error as Error)?.stack ?? error) })));
      await pair.close();
      await telemetry.shutdown();
    });
    beforeEach(() => telemetry.reset());

    it("carries the trace id and span id of the handler's span", async () => {
      const { logger, parsed } = capture();
      pair.onCheck = (imei) => logger.info("checking device", { imei });
      await pair.partner.lookup({ imei: IMEI, purpose: "case 1" });
      await eventually("3 spans", () => telemetry.spans().length >= 3);
      const server = telemetry.spans().find((s) => s.kind === SpanKind.SERVER && s.name.endsWith("/CheckDevice"))!;
      const [line] = parsed();
      assert.equal(line!.trace_id, server.spanContext().traceId);
      assert.equal(line!.span_id, server.spanContext().spanId);
      assert.equal(line!.imei, mask(IMEI));
    });

    it("logs internal errors through the logger, with the failed call's trace id", async () => {
      const { logger, parsed } = capture({}, "registry-gb");
      logInternalErrors(logger);
      pair.onCheck = (imei) => {
        throw new TypeError(`cannot read row of ${imei}`);
      };
      await assert.rejects(pair.partner.lookup({ imei: IMEI, purpose: "case 1" }));
      await eventually("3 spans", () => telemetry.spans().length >= 3);
      const server = telemetry.spans().find((s) => s.kind === SpanKind.SERVER && s.name.endsWith("/CheckDevice"))!;
      const lines = parsed();
      assert.equal(lines.length, 1, JSON.stringify(lines));
      const [line] = lines;
      assert.equal(line!.level, "error");
      assert.equal(line!.msg, "internal error");
      assert.equal(line!.where, "imeifed.v1.RegistryService/CheckDevice");
      assert.equal(line!.trace_id, server.spanContext().traceId);
      assert.equal(line!.span_id, server.spanContext().spanId);
      const error = line!.error as Record<string, unknown>;
      assert.equal(error.name, "TypeError");
      assert.equal(error.message, `cannot read row of ${mask(IMEI)}`);
    });

    it("takes the active span of code outside any RPC too", () => {
      const { logger, parsed } = capture();
      trace.getTracer("test").startActiveSpan("demo seeding", (span) => {
        logger.info("seeded");
        span.end();
        assert.equal(parsed()[0]!.trace_id, span.spanContext().traceId);
      });
    });
  });
});
