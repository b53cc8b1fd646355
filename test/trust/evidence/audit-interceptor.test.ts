import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ImeifedError } from "../../../errors/index.js";
import { DeviceStatus } from "../../../gen/imeifed/v1/device_pb.js";
import { RegistryService } from "../../../gen/imeifed/v1/registry_pb.js";
import { requireDevice } from "../../../device/index.js";
import { createClient, hosted, startHost, type RunningHost, type ServiceImpl } from "../../../rpc/index.js";
import { SqliteAuditLog, auditDetails, batchDigest, changeAudit, createAuditInterceptor, queryAudit, verifyAuditChain, type AuditEntry } from "../../../trust/audit/index.js";
import { createTestTrust, type TestTrust } from "../../support/trust-fixture.js";

const unimplemented = async (): Promise<never> => {
  throw new ImeifedError(Code.UNIMPLEMENTED, "UNIMPLEMENTED", "not in this test");
};
// eslint-disable-next-line require-yield
async function* unimplementedStream(): AsyncIterable<never> {
  throw new ImeifedError(Code.UNIMPLEMENTED, "UNIMPLEMENTED", "not in this test");
}

/** A registry whose handlers fill the audit details as the real one must. */
const registry: ServiceImpl<typeof RegistryService> = {
  async checkDevice(request, ctx) {
    const audit = auditDetails(ctx);
    audit.purpose = request.purpose;
    const device = requireDevice(request.imei);
    audit.deviceKey = device.key;
    audit.countries = ["GB"];
    if (request.purpose === "explode") throw new ImeifedError(Code.FAILED_PRECONDITION, "CASE_CLEARED", "refused after the lookup");
    audit.verdict = "PROHIBITED";
    return { check: { deviceKey: device.key, status: DeviceStatus.PROHIBITED } };
  },
  async checkDevices(request, ctx) {
    const keys = request.imeis.map((imei) => requireDevice(imei).key);
    Object.assign(auditDetails(ctx), { batchDigest: batchDigest(keys), batchSize: keys.length, purpose: request.purpose, verdict: `PERMITTED:${keys.length}` });
    return { checks: keys.map((deviceKey) => ({ deviceKey, status: DeviceStatus.PERMITTED })) };
  },
  async getKeys() {
    return { jwksJson: "{\"keys\":[]}", country: "GB" };
  },
  reportDevice: unimplemented,
  clearDevice: unimplemented,
  recordSighting: unimplemented,
  recordSightings: unimplemented,
  watchChanges: unimplementedStream,
  watchSightings: unimplementedStream,
  checkDevicesStream: unimplementedStream,
};

const SCOPES = { CheckDevice: "devices:check", CheckDevices: "devices:check", GetKeys: "public" } as const;

describe("audit interceptor (real sockets, real SQLite file)", () => {
  let fixture: TestTrust;
  let dir: string;
  let log: SqliteAuditLog;
  let host: RunningHost;
  const at = new Date("2025-04-01T12:00:00.000Z");

  before(async () => {
    fixture = await createTestTrust();
    dir = await mkdtemp(join(tmpdir(), "imeifed-audit-icpt-"));
    log = SqliteAuditLog.open(join(dir, "registry.sqlite"));
    host = await startHost({
      listen: "127.0.0.1:0",
      services: [hosted(RegistryService, registry)],
      // Audit outside the authenticator: it reads the caller after the call, so the order does not matter.
      interceptors: [createAuditInterceptor(log, { server: "registry-gb", now: () => at }), fixture.authenticator("registry-gb", SCOPES)],
    });
  });

  after(async () => {
    await host?.shutdown();
    await log?.close();
    await fixture?.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("records a direct call: caller, method, device key, purpose, verdict, status, time", async () => {
    const client = createClient(RegistryService, host.address, { metadata: fixture.metadataFor("police-es", "registry-gb") });
    try {
      await client.checkDevice({ imei: "356938035643809", purpose: "ES-case-77" });
    } finally {
      client.close();
    }
    const [entry, ...rest] = await queryAudit(log, { deviceKey: "35693803564380" });
    assert.equal(rest.length, 0);
    assert.ok(entry);
    assert.equal(entry.server, "registry-gb");
    assert.equal(entry.principal, "police-es");
    assert.equal(entry.actor, null);
    assert.equal(entry.method, "CheckDevice");
    assert.equal(entry.purpose, "ES-case-77");
    assert.equal(entry.verdict, "PROHIBITED");
    assert.deepEqual(entry.countries, ["GB"]);
    assert.equal(entry.statusCode, Code.OK);
    assert.equal(entry.at.toISOString(), at.toISOString());
  });

  it("records the real requester of a delegated call as actor", async () => {
    const client = createClient(RegistryService, host.address, {
      metadata: fixture.metadataFor("gateway", "registry-gb", ["devices:check"], { id: "customs-gb", kind: "customs", country: "GB" }),
    });
    try {
      await client.checkDevice({ imei: "490154203237518", purpose: "MRN 24GB0001" });
    } finally {
      client.close();
    }
    const entries = await queryAudit(log, { requester: "customs-gb" });
    assert.equal(entries.length, 1);
    assert.equal(entries[0]?.principal, "gateway");
    assert.equal(entries[0]?.actor, "customs-gb");
  });

  it("records a failed call with its status code", async () => {
    const client = createClient(RegistryService, host.address, { metadata: fixture.metadataFor("police-jp", "registry-gb") });
    try {
      await assert.rejects(client.checkDevice({ imei: "353456789012348", purpose: "explode" }), (e: ImeifedError) => e.code === Code.FAILED_PRECONDITION);
    } finally {
      client.close();
    }
    const [entry] = await queryAudit(log, { requester: "police-jp" });
    assert.equal(entry?.statusCode, Code.FAILED_PRECONDITION);
    assert.equal(entry?.deviceKey, "35345678901234");
    assert.equal(entry?.verdict, "");
  });

  it("records a batch as a digest of its sorted keys and its size", async () => {
    const imeis = ["490154203237518", "356938035643809"];
    const client = createClient(RegistryService, host.address, { metadata: fixture.metadataFor("police-us", "registry-gb") });
    try {
      await client.checkDevices({ imeis, purpose: "sweep" });
    } finally {
      client.close();
    }
    const [entry] = await queryAudit(log, { requester: "police-us" });
    assert.equal(entry?.deviceKey, null);
    assert.equal(entry?.batchDigest, batchDigest(["35693803564380", "49015420323751"]));
    assert.equal(entry?.batchSize, 2);
  });

  it("records nothing for calls that touch no device, nor for calls refused before the handler", async () => {
    const before = (await queryAudit(log)).length;
    const anonymous = createClient(RegistryService, host.address);
    try {
      await anonymous.getKeys({});
      await assert.rejects(anonymous.checkDevice({ imei: "490154203237518", purpose: "no token" }), (e: ImeifedError) => e.code === Code.UNAUTHENTICATED);
      await assert.rejects(anonymous.checkDevice({ imei: "not-an-imei" }), (e: ImeifedError) => e.code === Code.UNAUTHENTICATED);
    } finally {
      anonymous.close();
    }
    assert.equal((await queryAudit(log)).length, before);
  });

  it("keeps a verifiable chain of everything it recorded", async () => {
    await log.flush();
    const report = await verifyAuditChain(log);
    assert.ok(report.ok, report.ok ? "" : report.message);
    assert.equal(report.entries, (await queryAudit(log)).length);
  });

  it("answers UNAVAILABLE instead of an unrecorded answer when the log cannot take the entry", async () => {
    const full = {
      append(_entry: AuditEntry): void {
        throw new ImeifedError(Code.UNAVAILABLE, "AUDIT_UNAVAILABLE", "the audit log cannot record this call right now; retry later");
      },
    };
    const strict = await startHost({ listen: "127.0.0.1:0", services: [hosted(RegistryService, registry)], interceptors: [fixture.authenticator("registry-gb", SCOPES), createAuditInterceptor(full, { server: "registry-gb" })] });
    const client = createClient(RegistryService, strict.address, { metadata: fixture.metadataFor("police-es", "registry-gb") });
    try {
      await assert.rejects(client.checkDevice({ imei: "490154203237518", purpose: "p" }), (e: ImeifedError) => e.code === Code.UNAVAILABLE && /cannot record/.test(e.message));
      await client.getKeys({});
    } finally {
      client.close();
      await strict.shutdown();
    }
  });
});

describe("audit interceptor on a state-changing call (real sockets)", () => {
  let fixture: TestTrust;
  before(async () => {
    fixture = await createTestTrust();
  });
  after(async () => fixture?.cleanup());

  let sealed: AuditEntry[] = [];
  /** A registry whose ReportDevice fills its details, then seals its entry as a store would in its transaction ("sealed"), fails ("refused") or returns (the entry is then the interceptor's to write). */
  const changing: ServiceImpl<typeof RegistryService> = {
    ...registry,
    async reportDevice(request, ctx) {
      Object.assign(auditDetails(ctx), { deviceKey: requireDevice(request.imeis[0]!).key, purpose: request.caseReference });
      if (request.caseReference === "refused") throw new ImeifedError(Code.PERMISSION_DENIED, "NOT_YOUR_RECORD", "not your case");
      const seal = changeAudit(ctx, (created: boolean) => (created ? "REPORTED" : "REPLAY"));
      if (request.caseReference === "sealed") sealed.push(seal!(true));
      else auditDetails(ctx).verdict = "REPORTED";
      return { devices: [] };
    },
  };
  async function withLog(log: { append(entry: AuditEntry): void; appendDurably(entry: AuditEntry): Promise<void> }, run: (client: ReturnType<typeof createClient<typeof RegistryService>>) => Promise<void>) {
    const host = await startHost({
      listen: "127.0.0.1:0",
      services: [hosted(RegistryService, changing)],
      interceptors: [fixture.authenticator("registry-gb", { ReportDevice: "devices:report" }), createAuditInterceptor(log, { server: "registry-gb", durableMethods: ["ReportDevice"] })],
    });
    const client = createClient(RegistryService, host.address, { metadata: fixture.metadataFor("police-gb", "registry-gb") });
    try {
      await run(client);
    } finally {
      client.close();
      await host.shutdown();
    }
  }

  it("writes the entry durably before the answer, unless the store sealed it in the change's transaction", async () => {
    sealed = [];
    const queued: AuditEntry[] = [];
    const durable: AuditEntry[] = [];
    const log = { append: (e: AuditEntry) => void queued.push(e), appendDurably: async (e: AuditEntry) => void durable.push(e) };
    await withLog(log, async (client) => {
      await client.reportDevice({ imeis: ["490154203237518"], caseReference: "plain" });
      await client.reportDevice({ imeis: ["490154203237518"], caseReference: "sealed" });
      await assert.rejects(client.reportDevice({ imeis: ["490154203237518"], caseReference: "refused" }), (e: ImeifedError) => e.code === Code.PERMISSION_DENIED);
    });
    assert.deepEqual(queued, [], "a change's entry never waits in the buffer");
    assert.deepEqual(durable.map((e) => [e.purpose, e.verdict, e.statusCode]), [["plain", "REPORTED", Code.OK], ["refused", undefined, Code.PERMISSION_DENIED]]);
    assert.deepEqual(sealed.map((e) => [e.purpose, e.verdict, e.statusCode, e.principal, e.method]), [["sealed", "REPORTED", Code.OK, "police-gb", "ReportDevice"]]);
  });

  it("answers UNAVAILABLE, never OK, when a change's entry cannot be written; a refused change keeps its own status", async () => {
    const failing = {
      append: () => undefined,
      appendDurably: async () => {
        throw new ImeifedError(Code.UNAVAILABLE, "AUDIT_UNAVAILABLE", "the audit log cannot record this call right now; retry later");
      },
    };
    await withLog(failing, async (client) => {
      await assert.rejects(client.reportDevice({ imeis: ["490154203237518"], caseReference: "plain" }), (e: ImeifedError) => e.code === Code.UNAVAILABLE && /cannot record/.test(e.message));
      await assert.rejects(client.reportDevice({ imeis: ["490154203237518"], caseReference: "refused" }), (e: ImeifedError) => e.code === Code.PERMISSION_DENIED);
    });
  });
});
