import assert from "node:assert/strict";
import { mask } from "../../device/index.js";
import { setInternalErrorSink } from "../../rpc/index.js";
import { startObservability, type ProcessObservability } from "../../observability/index.js";
import { startTracedPair } from "./traced-pair.js";

const IMEI = "490154203237518";

describe("a process's observability in one call", () => {
  let lines: Record<string, unknown>[];
  let observability: ProcessObservability | undefined;
  beforeEach(() => {
    lines = [];
  });
  afterEach(async () => {
    await observability?.shutdown();
    observability = undefined;
    setInternalErrorSink((error, where) => console.error(JSON.stringify({ level: "error", msg: "internal error", where, error: String((error as Error)?.stack ?? error) })));
  });

  it("without OTEL_* variables: logs at the configured level and routes internal errors to the log, masked", async () => {
    observability = await startObservability({ serviceName: "imeifed-registry-gb", logLevel: "warn", env: {}, write: (l) => lines.push(JSON.parse(l)) });
    assert.equal(observability.telemetry.tracing, false);
    observability.logger.info("not written");
    const pair = await startTracedPair();
    try {
      pair.onCheck = (imei) => {
        throw new Error(`store lost ${imei}`);
      };
      await assert.rejects(pair.partner.lookup({ imei: IMEI, purpose: "case 1" }));
    } finally {
      await pair.close();
    }
    assert.equal(lines.length, 1, JSON.stringify(lines));
    assert.equal(lines[0]!.msg, "internal error");
    assert.equal(lines[0]!.service, "imeifed-registry-gb");
    assert.equal((lines[0]!.error as { message: string }).message, `store lost ${mask(IMEI)}`);
    assert.equal(lines[0]!.trace_id, undefined, "no trace without telemetry");
  });

  it("with OTEL_TRACES_EXPORTER=console: traces calls, and the internal error line names the trace", async () => {
    // The console exporter prints spans on stdout; keep the test's output readable.
    const { log, dir } = console;
    console.log = console.dir = () => {};
    try {
      observability = await startObservability({ serviceName: "imeifed-registry-gb", env: { OTEL_TRACES_EXPORTER: "console" }, write: (l) => lines.push(JSON.parse(l)) });
      assert.equal(observability.telemetry.tracing, true);
      assert.equal(observability.telemetry.metrics, false);
      const pair = await startTracedPair();
      try {
        pair.onCheck = () => {
          throw new Error("store lost");
        };
        await assert.rejects(pair.partner.lookup({ imei: IMEI, purpose: "case 1" }));
      } finally {
        await pair.close();
      }
      await observability.shutdown();
    } finally {
      Object.assign(console, { log, dir });
    }
    const line = lines.find((l) => l.msg === "internal error");
    assert.match(String(line?.trace_id), /^[0-9a-f]{32}$/);
  });
});
