import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ImeifedError } from "../../errors/index.js";
import { RegistryService } from "../../gen/imeifed/v1/registry_pb.js";
import { createClient } from "../../rpc/index.js";
import { loadRegistryConfig, parseRegistryConfig } from "../../services/registry/registry-config.js";
import { startRegistry } from "../../services/registry/registry-server.js";
import { channelCredentials } from "../../trust/tls.js";
import { createTestPki } from "../support/tls-fixture.js";
import { createTestTrust, type TestTrust } from "../support/trust-fixture.js";
import { reportRequest } from "../support/registry-fixture.js";
import { testDevice } from "./test-imeis.js";

describe("registry config", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "imeifed-registry-config-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("reads YAML, fills the documented defaults and resolves paths against the file", async () => {
    const file = join(dir, "gb.yaml");
    writeFileSync(file, "country: gb\ndb: { sqlite: data/gb.sqlite }\ntrustFile: trust.json\nsharing:\n  rules: [{ kind: police, withhold: [] }]\n");
    const config = await loadRegistryConfig(file);
    assert.equal(config.country, "GB");
    assert.equal(config.id, "registry-gb");
    assert.equal(config.listen, "127.0.0.1:50061");
    assert.equal(config.batchLimit, 10_000);
    assert.equal(config.cacheMaxAgeSec, 300);
    assert.equal(config.allowInsecure, false);
    assert.deepEqual(config.db, { sqlite: join(dir, "data/gb.sqlite") });
    assert.equal(config.trustFile, join(dir, "trust.json"));
    assert.deepEqual(config.sharing.rules, [{ kind: "police", withhold: [] }]);
  });

  it("names the field at fault", () => {
    const cases: Array<[object, RegExp]> = [
      [{ country: "GBR", db: { sqlite: "x" } }, /country: must be an ISO 3166-1 alpha-2 code/],
      [{ country: "GB", db: { sqlite: "x" }, batchLimit: 0 }, /batchLimit: /],
      [{ country: "GB", db: { postgres: "postgres://h/db", schema: "Bad-Name" } }, /db\.schema|db: /],
      [{ country: "GB", db: { sqlite: "x" }, cacheMaxAge: 5 }, /Unrecognized key.*cacheMaxAge/],
      [{ country: "GB", db: { sqlite: "x" }, sharing: { rules: [{ kind: "police", share: "some" }] } }, /sharing\.rules/],
    ];
    for (const [input, message] of cases) {
      assert.throws(
        () => parseRegistryConfig(input),
        (e: unknown) => e instanceof ImeifedError && e.code === Code.INVALID_ARGUMENT && message.test(e.message),
        JSON.stringify(input),
      );
    }
  });
});

describe("registry quotas", () => {
  let trust: TestTrust;
  let dir: string;
  before(async () => {
    trust = await createTestTrust();
    dir = mkdtempSync(join(tmpdir(), "imeifed-registry-quota-"));
  });
  after(async () => {
    await trust.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it("counts the devices of a batch against the caller's quota, answering RESOURCE_EXHAUSTED with a retry delay", async () => {
    const registry = await startRegistry({
      country: "GB",
      listen: "127.0.0.1:0",
      db: { sqlite: join(dir, "gb.sqlite") },
      trust: trust.trust,
      quotas: { default: { callsPerSecond: 1_000, devicesPerSecond: 10 } },
    });
    const client = createClient(RegistryService, registry.address, { metadata: trust.metadataFor("gateway", "registry-gb") });
    const police = createClient(RegistryService, registry.address, { metadata: trust.metadataFor("police-gb", "registry-gb") });
    try {
      const imeis = Array.from({ length: 8 }, (_, i) => testDevice(700 + i).imei);
      await client.checkDevices({ imeis, purpose: "CASE-1" });
      const refused = await client.checkDevices({ imeis, purpose: "CASE-1" }).then(
        () => assert.fail("the second batch should exceed 10 devices per second"),
        (e: unknown) => e as ImeifedError,
      );
      assert.equal(refused.code, Code.RESOURCE_EXHAUSTED);
      assert.ok((refused.retryAfterMs ?? 0) > 0, "retry-after-ms is sent");
      // Reports are not device checks: they only count as calls.
      await police.reportDevice(reportRequest({ imeis: [imeis[0]!] }));
    } finally {
      client.close();
      police.close();
      await registry.shutdown();
    }
  });
});

describe("registry over mutual TLS", () => {
  it("serves a client presenting a certificate from the configured CA, and refuses one without", async function () {
    this.timeout(30_000);
    const trust = await createTestTrust();
    const pki = await createTestPki("police-gb");
    const registry = await startRegistry({
      country: "GB",
      listen: "127.0.0.1:0",
      db: { sqlite: join(pki.dir, "gb.sqlite") },
      trust: trust.trust,
      tls: { cert: pki.server.cert, key: pki.server.key, ca: pki.ca, requireClientCert: true },
    });
    const withCert = createClient(RegistryService, registry.address, {
      credentials: await channelCredentials({ ca: pki.ca, cert: pki.client.cert, key: pki.client.key }),
      metadata: trust.metadataFor("police-gb", "registry-gb"),
    });
    const withoutCert = createClient(RegistryService, registry.address, {
      credentials: await channelCredentials({ ca: pki.ca }),
      metadata: trust.metadataFor("police-gb", "registry-gb"),
    });
    try {
      const { check } = await withCert.checkDevice({ imei: testDevice(901).imei, purpose: "CASE-1" });
      assert.equal(check?.deviceKey, testDevice(901).key);
      await assert.rejects(withoutCert.checkDevice({ imei: testDevice(901).imei, purpose: "CASE-1" }, { deadline: 5_000 }), (e: unknown) => e instanceof ImeifedError && e.code === Code.UNAVAILABLE);
    } finally {
      withCert.close();
      withoutCert.close();
      await registry.shutdown();
      await pki.cleanup();
      await trust.cleanup();
    }
  });
});
