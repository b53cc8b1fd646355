import assert from "node:assert/strict";
import Database from "better-sqlite3";
import pg from "pg";
import { DeviceStatus } from "../../gen/imeifed/v1/device_pb.js";
import { Code, ImeifedError } from "../../errors/index.js";
import { asStoreUnavailable } from "../../services/registry/store/store-unavailable.js";
import { createTestTrust, type TestTrust } from "../support/trust-fixture.js";
import { reportRequest, startTestRegistry, TEST_POSTGRES_URL, type TestRegistry } from "../support/registry-fixture.js";
import { createBackend } from "./store-backends.js";
import { testDevice } from "./test-imeis.js";
import { storeReport } from "../support/registry-fixture.js";

describe("registry database unavailable", () => {
  it("maps lost connections and a busy SQLite file to UNAVAILABLE, and nothing else", () => {
    const unavailable = [
      Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:5432"), { code: "ECONNREFUSED" }),
      Object.assign(new Error("terminating connection due to administrator command"), { code: "57P01" }),
      Object.assign(new Error("connection failure"), { code: "08006" }),
      new Error("Connection terminated unexpectedly"),
      Object.assign(new Error("database is locked"), { code: "SQLITE_BUSY" }),
    ];
    for (const error of unavailable) {
      const mapped = asStoreUnavailable(error);
      assert.ok(mapped instanceof ImeifedError && mapped.code === Code.UNAVAILABLE && (mapped.retryAfterMs ?? 0) > 0, error.message);
    }
    for (const error of [Object.assign(new Error("duplicate key"), { code: "23505" }), new Error("bug"), new ImeifedError(Code.PERMISSION_DENIED, "SHARING_REFUSED", "no")]) {
      assert.equal(asStoreUnavailable(error), error);
    }
  });

  describe("with SQLite", () => {
    let trust: TestTrust;
    let gb: TestRegistry;
    before(async () => {
      trust = await createTestTrust();
      gb = await startTestRegistry({ country: "GB", trust, seed: [{ imeis: [testDevice(801).imei] }] });
    });
    after(async () => {
      await gb.cleanup();
      await trust.cleanup();
    });

    it("answers writes UNAVAILABLE while another process holds the write lock, and keeps answering checks", async () => {
      const other = new Database((gb.registry.config.db as { sqlite: string }).sqlite);
      try {
        other.exec("BEGIN IMMEDIATE");
        const police = gb.client("police-gb");
        await assert.rejects(police.reportDevice(reportRequest({ imeis: [testDevice(802).imei] })), (e: unknown) => {
          assert.ok(e instanceof ImeifedError);
          assert.equal(e.code, Code.UNAVAILABLE);
          assert.match(e.message, /busy .*retry/);
          assert.ok((e.retryAfterMs ?? 0) > 0);
          return true;
        });
        assert.equal((await police.checkDevice({ imei: testDevice(801).imei, purpose: "CASE-1" })).check?.status, DeviceStatus.PROHIBITED);
        other.exec("ROLLBACK");
        const done = await police.reportDevice(reportRequest({ imeis: [testDevice(802).imei] }));
        assert.equal(done.devices[0]!.created, true);
      } finally {
        other.close();
      }
    });
  });

  describe("with PostgreSQL", () => {
    it("reconnects its LISTEN connection and still wakes watchers for other processes' commits", async function () {
      this.timeout(20_000);
      const backend = await createBackend("postgres");
      try {
        const watched = await backend.open();
        const writer = await backend.open();
        const schema = (backend.location as { schema: string }).schema;
        const admin = new pg.Client({ connectionString: TEST_POSTGRES_URL });
        await admin.connect();
        try {
          const { rowCount } = await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1", [`imeifed registry ${schema} listen`]);
          assert.equal(rowCount, 2, "both stores' LISTEN connections were cut");
        } finally {
          await admin.end();
        }
        const abort = new AbortController();
        const woken = watched.changeFeed.wait(watched.changeFeed.version, abort.signal, 10_000);
        await writer.report(storeReport(testDevice(803).key, { caseReference: "AFTER-CUT" }));
        const started = Date.now();
        assert.equal(await woken, true);
        assert.ok(Date.now() - started < 5_000, "woken by the reconnected listener or the fallback poll, not the 10 s timeout");
        assert.equal(await watched.lastSequence(), 1);
        abort.abort();
      } finally {
        await backend.cleanup();
      }
    });
  });
});
