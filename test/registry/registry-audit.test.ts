import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ClearReason } from "../../gen/imeifed/v1/device_pb.js";
import { RegistryService, SightingKind } from "../../gen/imeifed/v1/registry_pb.js";
import { Code, ImeifedError } from "../../errors/index.js";
import { createClient, type Client } from "../../rpc/index.js";
import { startRegistry, type RunningRegistry } from "../../services/registry/registry-server.js";
import { legacyAuditFileOf } from "../../services/registry/registry-audit.js";
import { SqliteAuditLog, verifyAuditChain, type AuditLog } from "../../trust/audit/index.js";
import { reportRequest, TEST_POSTGRES_URL, testPostgresSchema } from "../support/registry-fixture.js";
import { createTestTrust, type TestTrust } from "../support/trust-fixture.js";
import { sampleEntry } from "../trust/evidence/audit-stores.js";
import { testDevice } from "./test-imeis.js";

async function verified(log: AuditLog): Promise<number> {
  const report = await verifyAuditChain(log);
  assert.ok(report.ok, report.ok ? "" : report.message);
  return report.entries;
}

describe("a registry's audit log in its store's database", function () {
  this.timeout(60_000);
  let trust: TestTrust;
  let dir: string;
  const running: RunningRegistry[] = [];
  const clients: Client<typeof RegistryService>[] = [];
  const drops: Array<() => Promise<void>> = [];

  before(async () => {
    trust = await createTestTrust();
  });
  after(async () => trust.cleanup());
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "imeifed-registry-audit-"));
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    for (const r of running.splice(0)) await r.shutdown(1_000);
    for (const drop of drops.splice(0)) await drop();
    rmSync(dir, { recursive: true, force: true });
  });

  async function start(db: { sqlite: string } | { postgres: string; schema: string }): Promise<RunningRegistry> {
    const registry = await startRegistry({ country: "GB", id: "registry-gb", listen: "127.0.0.1:0", db, trust: trust.trust });
    running.push(registry);
    return registry;
  }
  function client(registry: RunningRegistry, principal: string): Client<typeof RegistryService> {
    const c = createClient(RegistryService, registry.address, { metadata: trust.metadataFor(principal, "registry-gb") });
    clients.push(c);
    return c;
  }

  it("moves the chain of the earlier default, <db>.audit.sqlite, into the store's file with every hash, and goes on from its head", async () => {
    const store = join(dir, "gb.sqlite");
    const legacy = legacyAuditFileOf(store);
    const old = SqliteAuditLog.open(legacy);
    for (let i = 1; i <= 5; i++) old.append(sampleEntry(i));
    await old.close();
    const oldRows = await (async () => {
      const reader = SqliteAuditLog.open(legacy, { readOnly: true });
      try {
        return await reader.rowsAfter(0, 100);
      } finally {
        await reader.close();
      }
    })();

    const registry = await start({ sqlite: store });
    assert.ok(!existsSync(legacy) && existsSync(`${legacy}.moved`), "the old file is put aside, not deleted");
    await client(registry, "police-gb").reportDevice(reportRequest({ imeis: [testDevice(801).imei] }));
    await registry.shutdown(1_000);

    const reader = SqliteAuditLog.open(store, { readOnly: true });
    try {
      assert.equal(await verified(reader), 6);
      const rows = await reader.rowsAfter(0, 100);
      assert.deepEqual(rows.slice(0, 5), oldRows, "the moved entries are the old ones, seq and hashes included");
      assert.equal(rows[5]?.method, "ReportDevice");
    } finally {
      await reader.close();
    }
  });

  it("refuses to start when the store's file and the old file hold different chains", async () => {
    const store = join(dir, "gb.sqlite");
    await (await start({ sqlite: store })).shutdown(1_000);
    running.length = 0;
    // The store's file has a chain of its own now (empty is fine: give it one entry).
    const own = SqliteAuditLog.open(store);
    own.append(sampleEntry(1, { purpose: "the store's own" }));
    await own.close();
    const other = SqliteAuditLog.open(legacyAuditFileOf(store));
    other.append(sampleEntry(1, { purpose: "another chain" }));
    await other.close();
    await assert.rejects(start({ sqlite: store }), (e: unknown) => e instanceof ImeifedError && e.code === Code.FAILED_PRECONDITION && e.reason === "AUDIT_CHAINS_DIFFER");
    assert.ok(existsSync(legacyAuditFileOf(store)), "neither file is touched");
  });

  for (const kind of ["sqlite", "postgres"] as const) {
    it(`keeps one chain while changes (written in their transactions) and questions (buffered) interleave (${kind}${kind === "postgres" ? ", two registries on one schema" : ""})`, async () => {
      let db: { sqlite: string } | { postgres: string; schema: string };
      if (kind === "sqlite") db = { sqlite: join(dir, "gb.sqlite") };
      else {
        const { schema, drop } = testPostgresSchema();
        drops.push(drop);
        db = { postgres: TEST_POSTGRES_URL, schema };
      }
      const registries = kind === "sqlite" ? [await start(db)] : [await start(db), await start(db)];
      const devices = Array.from({ length: 12 }, (_, i) => testDevice(810 + i));
      await Promise.all(
        devices.map(async (device, i) => {
          const registry = registries[i % registries.length]!;
          const police = client(registry, "police-gb");
          const partner = client(registry, "police-es");
          await Promise.all([
            police.reportDevice(reportRequest({ imeis: [device.imei], caseReference: `GB-${i}` })),
            partner.checkDevice({ imei: device.imei, purpose: `ES-${i}` }),
            partner.checkDevices({ imeis: devices.map((d) => d.imei), purpose: `ES-batch-${i}` }),
          ]);
          await Promise.all([
            partner.recordSighting({ imei: device.imei, kind: SightingKind.LOOKUP_HIT, purpose: `ES-${i}` }),
            partner.checkDevice({ imei: device.imei, purpose: `ES-again-${i}` }),
          ]);
          await police.clearDevice({ imei: device.imei, caseReference: `GB-${i}`, reason: ClearReason.RECOVERED });
        }),
      );
      for (const r of registries) await r.audit.flush();
      const log = registries[0]!.audit;
      assert.equal(await verified(log), devices.length * 6);
      const count = async (method: string) => (await log.query({ method, limit: 1000 })).length;
      assert.deepEqual(
        [await count("ReportDevice"), await count("RecordSighting"), await count("ClearDevice"), await count("CheckDevice"), await count("CheckDevices")],
        [12, 12, 12, 24, 12],
      );
    });
  }
});
