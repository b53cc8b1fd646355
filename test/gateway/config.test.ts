import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ImeifedError } from "../../errors/index.js";
import { loadGatewayConfig, parseGatewayConfig } from "../../gateway/config.js";

const minimal = {
  id: "gateway",
  listen: "127.0.0.1:50051",
  trustFile: "trust.json",
  key: "gateway.private.jwk.json",
  registries: [{ country: "gb", address: "127.0.0.1:50061", id: "registry-gb" }],
};

function rejectsNaming(fn: () => unknown, field: RegExp): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ImeifedError);
    assert.equal(error.code, Code.INVALID_ARGUMENT);
    assert.match(error.message, field);
    return true;
  });
}

describe("gateway config", () => {
  let dir: string;
  before(async () => (dir = await mkdtemp(join(tmpdir(), "imeifed-gw-config-"))));
  after(() => rm(dir, { recursive: true, force: true }));

  it("fills documented defaults, upper-cases countries and resolves paths against the file's directory", () => {
    const config = parseGatewayConfig(minimal, "/etc/imeifed");
    assert.equal(config.registries[0]!.country, "GB");
    assert.equal(config.registries[0]!.kind, "registry");
    assert.equal(config.registries[0]!.batchLimit, 10_000);
    assert.equal(config.trustFile, "/etc/imeifed/trust.json");
    assert.equal(config.key, "/etc/imeifed/gateway.private.jwk.json");
    assert.deepEqual(config.deadlines, { upstreamMaxMs: 2_000, marginMs: 50 });
    assert.deepEqual(config.cache, { maxEntries: 250_000, listedTtlMs: 3_600_000, unlistedTtlMs: 5_000, cleanMaxEntries: 2_000_000 });
    assert.deepEqual(config.breaker, { failureThreshold: 5, coolDownMs: 1_000 });
  });

  it("names the field of every mistake", () => {
    rejectsNaming(() => parseGatewayConfig({ ...minimal, listen: "50051" }), /listen: must be host:port/);
    rejectsNaming(() => parseGatewayConfig({ ...minimal, registries: [{ ...minimal.registries[0], country: "GBR" }] }), /registries\[0\]\.country: must be an ISO 3166-1 alpha-2/);
    rejectsNaming(() => parseGatewayConfig({ ...minimal, registries: [] }), /registries: name at least one registry/);
    rejectsNaming(() => parseGatewayConfig({ ...minimal, registries: [minimal.registries[0], minimal.registries[0]] }), /registries\[1\]\.country: GB is listed twice/);
    rejectsNaming(() => parseGatewayConfig({ ...minimal, cache: { maxEntries: -1 } }), /cache\.maxEntries/);
    rejectsNaming(() => parseGatewayConfig({ ...minimal, deadline: {} }), /Unrecognized key.*deadline/);
    rejectsNaming(() => parseGatewayConfig({ ...minimal, id: undefined }), /^gateway config: id: Required/);
  });

  it("reads JSON and YAML files alike, and says which file is wrong", async () => {
    const json = join(dir, "federation.json");
    await writeFile(json, JSON.stringify(minimal));
    const yaml = join(dir, "federation.yaml");
    await writeFile(yaml, ["id: gateway", "listen: 127.0.0.1:50051", "trustFile: trust.json", "key: k.json", "registries:", "  - { country: ES, address: '127.0.0.1:50062', id: registry-es, batchLimit: 500 }"].join("\n"));
    assert.equal((await loadGatewayConfig(json)).trustFile, join(dir, "trust.json"));
    assert.equal((await loadGatewayConfig(yaml)).registries[0]!.batchLimit, 500);
    const bad = join(dir, "bad.yaml");
    await writeFile(bad, "id: gateway\nlisten: nowhere\n");
    await assert.rejects(loadGatewayConfig(bad), (e: Error) => e.message.startsWith(bad) && /listen: must be host:port/.test(e.message));
    await assert.rejects(loadGatewayConfig(join(dir, "missing.json")), /cannot read gateway config/);
  });
});
