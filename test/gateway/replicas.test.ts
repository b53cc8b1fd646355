/**
 * Three gateway replicas following the same five registries (issue 20,
 * section 3): every replica is a real `imeifed gateway serve` process, every
 * registry a real `imeifed registry serve` process on its own PostgreSQL
 * schema. A device each replica has cached as clean is reported stolen at its
 * home registry and must read PROHIBITED through every replica within one
 * second; cleared, it must read PERMITTED again within one second. The
 * replicas' caches are kept long, so only their change streams can make that
 * happen in time.
 */
import assert from "node:assert/strict";
import { FederationService, Verdict } from "../../gen/imeifed/v1/federation_pb.js";
import { RegistryService } from "../../gen/imeifed/v1/registry_pb.js";
import { ClearReason } from "../../gen/imeifed/v1/device_pb.js";
import { createClient, type Client } from "../../rpc/index.js";
import { spawnGatewayProcess } from "../support/gateway-process.js";
import { reportRequest, spawnRegistryProcess, testPostgresSchema, TEST_POSTGRES_URL, type RegistryProcess } from "../support/registry-fixture.js";
import type { ServerProcess } from "../support/server-process.js";
import { createTestTrust, type TestTrust } from "../support/trust-fixture.js";
import { eventually, within } from "../support/waiting.js";

const COUNTRIES = ["GB", "ES", "BR", "JP", "US"] as const;
const REPLICAS = 3;
/** Long enough that a replica serving from its cache would still say PERMITTED: only the change stream can correct it. */
const LONG_TTL_MS = 3_600_000;

describe("three gateway replicas following five PostgreSQL registries (real processes)", function () {
  this.timeout(120_000);
  let trust: TestTrust;
  const schemas = COUNTRIES.map(() => testPostgresSchema("t_replicas"));
  let registries: RegistryProcess[] = [];
  let gateways: ServerProcess[] = [];
  const clients: Client<typeof FederationService>[] = [];
  let police: Client<typeof RegistryService>;

  before(async () => {
    trust = await createTestTrust();
    registries = await Promise.all(COUNTRIES.map((country, i) => spawnRegistryProcess({ country, trust, db: { postgres: TEST_POSTGRES_URL, schema: schemas[i]!.schema } })));
    const upstreams = COUNTRIES.map((country, i) => ({ country, address: registries[i]!.address }));
    gateways = await Promise.all(
      Array.from({ length: REPLICAS }, () =>
        spawnGatewayProcess({ trust, registries: upstreams, config: { cache: { maxEntries: 10_000, listedTtlMs: LONG_TTL_MS, unlistedTtlMs: LONG_TTL_MS } } }),
      ),
    );
    for (const gateway of gateways) clients.push(createClient(FederationService, gateway.address, { metadata: trust.metadataFor("police-es", "gateway") }));
    police = createClient(RegistryService, registries[0]!.address, { metadata: trust.metadataFor("police-gb", "registry-gb") });
  });

  after(async () => {
    for (const c of clients) c.close();
    police?.close();
    await Promise.all(gateways.map((g) => g.kill()));
    await Promise.all(registries.map((r) => r.kill()));
    await Promise.all(schemas.map((s) => s.drop()));
    await trust?.cleanup();
  });

  const verdictThrough = (client: Client<typeof FederationService>, imei: string) => async () => Verdict[(await client.lookup({ imei, purpose: "case ES-77" })).verdict];

  it("reads a theft reported at home as PROHIBITED through every replica within a second, and its clearing as PERMITTED", async () => {
    const imei = "356938035643809";
    // Each replica answers clean from its cache: its change streams are live (a replica not yet following asks the registries instead).
    for (const client of clients) {
      assert.equal(await verdictThrough(client, imei)(), "PERMITTED");
      await eventually("the replica to serve the device from its cache", async () => (await client.lookup({ imei, purpose: "case ES-77" })).fromCache, { timeoutMs: 20_000, intervalMs: 100 });
    }

    await police.reportDevice(reportRequest({ imeis: [imei], caseReference: "CASE-REPLICAS-1" }));
    const took = await Promise.all(clients.map((client) => within(1_000, verdictThrough(client, imei), "PROHIBITED")));
    assert.ok(took.every((ms) => ms <= 1_000), `took ${took.join(", ")} ms`);

    await police.clearDevice({ imei, caseReference: "CASE-REPLICAS-1", reason: ClearReason.RECOVERED });
    await Promise.all(clients.map((client) => within(1_000, verdictThrough(client, imei), "PERMITTED")));
  });
});
