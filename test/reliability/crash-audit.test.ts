import assert from "node:assert/strict";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import Database from "better-sqlite3";
import pg from "pg";
import { ClearReason, DeviceStatus } from "../../gen/imeifed/v1/device_pb.js";
import { FederationService } from "../../gen/imeifed/v1/federation_pb.js";
import { RegistryService, SightingKind } from "../../gen/imeifed/v1/registry_pb.js";
import { createClient, type Client } from "../../rpc/index.js";
import { openAuditLog, type AuditConfig, type AuditRecord } from "../../trust/audit/index.js";
import { createTestTrust, type TestTrust } from "../support/trust-fixture.js";
import {
  reportRequest,
  spawnRegistryProcess,
  startTestRegistry,
  TEST_POSTGRES_URL,
  testPostgresSchema,
  type RegistryProcess,
  type RegistryProcessOptions,
} from "../support/registry-fixture.js";
import { readStream } from "../registry/stream-reader.js";
import { waitFor } from "../support/waiting.js";
import { testDevice } from "../registry/test-imeis.js";

const CLI = resolve(import.meta.dirname, "../../cli/bin.js");

/** `imeifed audit verify` as an operator runs it: a child process, its exit status and output. */
function auditVerify(where: AuditConfig): Promise<{ code: number; stdout: string; stderr: string }> {
  const args = "sqlite" in where ? ["--db", where.sqlite] : ["--postgres", where.postgres, "--schema", where.schema!];
  return new Promise((done) => {
    execFile(process.execPath, [CLI, "audit", "verify", ...args], { timeout: 30_000 }, (error, stdout, stderr) => {
      done({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** Every entry of a log, read-only, after its process is gone. */
async function entriesOf(where: AuditConfig): Promise<AuditRecord[]> {
  const log = await openAuditLog(where, { readOnly: true });
  try {
    return await log.rowsAfter(0, 10_000);
  } finally {
    await log.close();
  }
}

/** The one entry of `method` about `deviceKey` (or, for a batch, of that size) that ended OK. */
function entryOf(entries: readonly AuditRecord[], method: string, about: { deviceKey?: string; batchSize?: number }): AuditRecord | undefined {
  return entries.find(
    (e) => e.method === method && e.statusCode === 0 && (about.deviceKey === undefined || e.deviceKey === about.deviceKey) && (about.batchSize === undefined || e.batchSize === about.batchSize),
  );
}

const REPORTED = testDevice(701);
const SIGHTED = testDevice(702);
const UNLISTED = testDevice(703);

/**
 * What one describe's tests start, taken down after each test: registry
 * processes, clients, PostgreSQL schemas, a temp dir; one trust for all.
 */
function processHarness(prefix: string) {
  const state: { trust?: TestTrust; dir: string } = { dir: "" };
  const processes: RegistryProcess[] = [];
  const clients: Client<typeof RegistryService>[] = [];
  const cleanups: Array<() => Promise<void>> = [];
  before(async () => void (state.trust = await createTestTrust()));
  after(async () => state.trust?.cleanup());
  beforeEach(() => void (state.dir = mkdtempSync(join(tmpdir(), prefix))));
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    for (const p of processes.splice(0)) await p.kill();
    for (const cleanup of cleanups.splice(0)) await cleanup();
    rmSync(state.dir, { recursive: true, force: true });
  });
  return {
    trust: () => state.trust!,
    dir: () => state.dir,
    async spawn(options: Omit<RegistryProcessOptions, "trust" | "country">): Promise<RegistryProcess> {
      const p = await spawnRegistryProcess({ country: "GB", trust: state.trust!, ...options });
      processes.push(p);
      return p;
    },
    client(p: RegistryProcess, principal: string): Client<typeof RegistryService> {
      const c = createClient(RegistryService, p.address, { metadata: state.trust!.metadataFor(principal, "registry-gb") });
      clients.push(c);
      return c;
    },
    /** A fresh PostgreSQL schema, dropped after the test. */
    schema(prefix?: string): string {
      const { schema, drop } = testPostgresSchema(prefix);
      cleanups.push(drop);
      return schema;
    },
    /** A registry config file (flat YAML) beside the test's data, for `--config`. */
    configFile(fields: Record<string, unknown>): string {
      const file = join(state.dir, "gb.yaml");
      writeFileSync(file, `${Object.entries({ country: "GB", trustFile: state.trust!.trustFile, ...fields }).map(([k, v]) => `${k}: ${JSON.stringify(v)}`).join("\n")}\n`);
      return file;
    },
  };
}

/**
 * SIGKILL right after an acknowledged change: the change and its audit entry
 * are both there after a restart, and the chain verifies. The registry is the
 * real command in a child process; each change is followed at once by
 * SIGKILL, so nothing written after the answer survives.
 */
describe("an acknowledged change keeps its audit entry through SIGKILL (child processes)", function () {
  this.timeout(120_000);
  const run = processHarness("imeifed-crash-audit-");

  /** Starts the registry, makes one change through `change`, and SIGKILLs it as soon as the answer is in. */
  async function changeThenKill(options: Omit<RegistryProcessOptions, "trust" | "country">, change: (p: RegistryProcess) => Promise<void>): Promise<void> {
    const p = await run.spawn(options);
    await change(p);
    await p.kill();
    assert.equal((await p.exited).signal, "SIGKILL");
  }

  const places: Array<{ name: string; place: () => { options: Omit<RegistryProcessOptions, "trust" | "country">; audit: AuditConfig } }> = [
    {
      name: "SQLite, the audit in the store's file (the default)",
      place: () => ({ options: { db: { sqlite: join(run.dir(), "gb.sqlite") } }, audit: { sqlite: join(run.dir(), "gb.sqlite") } }),
    },
    {
      name: "PostgreSQL, the audit in the registry's schema (the default)",
      place: () => {
        const schema = run.schema();
        return { options: { db: { postgres: TEST_POSTGRES_URL, schema } }, audit: { postgres: TEST_POSTGRES_URL, schema } };
      },
    },
  ];

  for (const { name, place } of places) {
    it(`report, clear, sighting and sightings each survive with their entry (${name})`, async () => {
      const { options, audit } = place();
      await changeThenKill(options, async (p) => {
        const police = run.client(p, "police-gb");
        await police.reportDevice(reportRequest({ imeis: [SIGHTED.imei], caseReference: "GB-SIGHTED" }));
        await police.reportDevice(reportRequest({ imeis: [REPORTED.imei], caseReference: "GB-REPORTED" }));
      });
      await changeThenKill(options, async (p) => {
        const cleared = await run.client(p, "police-gb").clearDevice({ imei: REPORTED.imei, caseReference: "GB-REPORTED", reason: ClearReason.RECOVERED });
        assert.equal(cleared.status, DeviceStatus.PERMITTED);
      });
      await changeThenKill(options, async (p) => {
        const one = await run.client(p, "police-es").recordSighting({ imei: SIGHTED.imei, kind: SightingKind.FOUND, purpose: "ES seizure 1" });
        assert.equal(one.recorded, true);
      });
      await changeThenKill(options, async (p) => {
        const { results } = await run.client(p, "police-es").recordSightings({
          sightings: [
            { imei: SIGHTED.imei, kind: SightingKind.LOOKUP_HIT, purpose: "ES case 2" },
            { imei: UNLISTED.imei, kind: SightingKind.LOOKUP_HIT, purpose: "ES case 2" },
          ],
        });
        assert.deepEqual(results.map((r) => r.recorded), [true, false]);
      });

      // Restarted: every change is there.
      const p = await run.spawn(options);
      const { checks } = await run.client(p, "police-gb").checkDevices({ imeis: [REPORTED.imei, SIGHTED.imei], purpose: "after the crashes" });
      assert.deepEqual(checks.map((c) => c.status), [DeviceStatus.PERMITTED, DeviceStatus.PROHIBITED]);
      const abort = new AbortController();
      const sightings = readStream(run.client(p, "police-gb").watchSightings({ afterSequence: 0n }, { signal: abort.signal }));
      const seen = [await sightings.next(), await sightings.next()].map((m) => m.sighting?.kind);
      abort.abort();
      assert.deepEqual(seen, [SightingKind.FOUND, SightingKind.LOOKUP_HIT]);
      assert.equal(await p.stop(), 0);

      // And every change's entry, in a chain that verifies.
      const verified = await auditVerify(audit);
      assert.equal(verified.code, 0, verified.stderr);
      assert.match(verified.stdout, /^verified \d+ entries; head \d+:[0-9a-f]{64}$/m);
      const entries = await entriesOf(audit);
      const missing = [
        ["ReportDevice", { deviceKey: SIGHTED.key }, "REPORTED"],
        ["ReportDevice", { deviceKey: REPORTED.key }, "REPORTED"],
        ["ClearDevice", { deviceKey: REPORTED.key }, "PERMITTED"],
        ["RecordSighting", { deviceKey: SIGHTED.key }, "SIGHTING_RECORDED"],
        ["RecordSightings", { batchSize: 2 }, "SIGHTING_RECORDED:1 NOT_LISTED:1"],
      ].filter(([method, about, verdict]) => entryOf(entries, method as string, about as { deviceKey?: string; batchSize?: number })?.verdict !== verdict);
      assert.deepEqual(missing.map(([method]) => method), [], `entries lost: ${JSON.stringify(missing)}; the log holds ${entries.map((e) => e.method).join(", ")}`);
    });
  }
});

/**
 * An audit log in another database than the store's: the entry goes through
 * the store's outbox. Killed between the change's commit and the log's (the
 * log's table is locked, so its write waits), the registry appends the
 * entry at its next start, before serving.
 */
describe("a change whose audit log is in another database keeps its entry through SIGKILL between the two commits (child process)", function () {
  this.timeout(60_000);
  const run = processHarness("imeifed-crash-audit-outbox-");

  it("relays the entry the crash left in the outbox at the next start, once", async () => {
    const schema = run.schema("t_audit");
    const admin = new pg.Client({ connectionString: TEST_POSTGRES_URL });
    await admin.connect();
    try {
      const store = join(run.dir(), "gb.sqlite");
      const options = { db: { sqlite: store }, args: ["--config", run.configFile({ db: { sqlite: store }, audit: { postgres: TEST_POSTGRES_URL, schema } })] };
      const first = await run.spawn(options);
      const police = run.client(first, "police-gb");

      // The audit database stalls: the change commits, its entry cannot.
      await admin.query("BEGIN");
      await admin.query(`LOCK TABLE "${schema}".audit_log IN ACCESS EXCLUSIVE MODE`);
      const answer = police.reportDevice(reportRequest({ imeis: [REPORTED.imei], caseReference: "GB-OUTBOX" }));
      answer.catch(() => undefined);
      const reader = new Database(store, { readonly: true });
      try {
        await waitFor("the report and its outbox row to commit", () => {
          const listed = reader.prepare("SELECT count(*) AS n FROM records WHERE device_key = ?").get(REPORTED.key) as { n: number };
          const waiting = reader.prepare("SELECT count(*) AS n FROM audit_outbox").get() as { n: number };
          return listed.n === 1 && waiting.n === 1 ? true : undefined;
        });
      } finally {
        reader.close();
      }
      await first.kill();
      await assert.rejects(answer, "the caller was never told OK");
      await admin.query("ROLLBACK");

      const second = await run.spawn(options);
      assert.equal(await second.stop(), 0, second.stderr());
      const verified = await auditVerify({ postgres: TEST_POSTGRES_URL, schema });
      assert.equal(verified.code, 0, verified.stderr);
      const reports = (await entriesOf({ postgres: TEST_POSTGRES_URL, schema })).filter((e) => e.method === "ReportDevice" && e.deviceKey === REPORTED.key);
      assert.deepEqual(reports.map((e) => [e.verdict, e.statusCode, e.purpose]), [["REPORTED", 0, "GB-OUTBOX"]]);
    } finally {
      await admin.query("ROLLBACK").catch(() => undefined);
      await admin.end();
    }
  });
});

/**
 * The gateway's ReportFound: the found report reaches the owning registry
 * (which records the sighting with its entry, as above), and the gateway's
 * own entry is on disk before the partner is answered.
 */
describe("the gateway's ReportFound keeps its audit entry through SIGKILL (child process)", function () {
  this.timeout(60_000);
  const run = processHarness("imeifed-crash-audit-gw-");
  let gateway: ChildProcess | undefined;

  afterEach(async () => {
    if (gateway && gateway.exitCode === null && gateway.signalCode === null) {
      gateway.kill("SIGKILL");
      await once(gateway, "exit");
    }
  });

  it("answers a found report only once its entry is on disk", async () => {
    const trust = run.trust();
    const gb = await startTestRegistry({ country: "GB", trust, seed: [{ imeis: [SIGHTED.imei], by: "police-gb", caseReference: "GB-FOUND" }] });
    try {
      const audit = join(run.dir(), "gateway-audit.sqlite");
      const config = join(run.dir(), "federation.yaml");
      writeFileSync(
        config,
        [
          "id: gateway",
          "listen: 127.0.0.1:0",
          `trustFile: ${JSON.stringify(trust.trustFile)}`,
          `key: ${JSON.stringify(trust.privateKeyFile("gateway"))}`,
          `audit: { sqlite: ${JSON.stringify(audit)} }`,
          "registries:",
          `  - { country: GB, id: registry-gb, address: "${gb.registry.address}" }`,
        ].join("\n"),
      );
      gateway = spawn(process.execPath, [CLI, "gateway", "serve", "--config", config], { stdio: ["ignore", "pipe", "pipe"] });
      const lines = createInterface({ input: gateway.stdout! });
      const [line] = (await Promise.race([once(lines, "line"), once(gateway, "exit").then(() => assert.fail("the gateway exited before serving"))])) as [string];
      const { address } = JSON.parse(line) as { address: string };
      const police = createClient(FederationService, address, { metadata: trust.metadataFor("police-es", "gateway") });
      try {
        const answer = await police.reportFound({
          imei: SIGHTED.imei,
          purpose: "ES seizure 9",
          found: { location: "Algeciras port", holdingAgency: "Guardia Civil", contact: "+34 956 000 000" },
        });
        assert.deepEqual(answer.notifiedCountries, ["GB"]);
      } finally {
        police.close();
      }
      gateway.kill("SIGKILL");
      await once(gateway, "exit");

      const verified = await auditVerify({ sqlite: audit });
      assert.equal(verified.code, 0, verified.stderr);
      const found = entryOf(await entriesOf({ sqlite: audit }), "ReportFound", { deviceKey: SIGHTED.key });
      assert.equal(found?.verdict, "FOUND_NOTIFIED");
      assert.equal(found?.principal, "police-es");
      // The registry recorded the sighting with its own entry, relayed for police-es.
      const [sighting] = await gb.registry.store.sightingsAfter("police-gb", 0, 10);
      assert.equal(sighting?.kind, SightingKind.FOUND);
      const relayed = entryOf(await gb.registry.audit.query({ method: "RecordSighting" }), "RecordSighting", { deviceKey: SIGHTED.key });
      assert.equal(relayed?.actor, "police-es");
    } finally {
      await gb.cleanup();
    }
  });
});
