/**
 * A flood of badly signed tokens from one client machine, spread over many
 * connections so that no connection carries many, against a real registry
 * process and a real gateway process: past the threshold the address's new
 * tokens are refused unchecked, while a token of that address verified
 * before the flood keeps working.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FederationService } from "../../gen/imeifed/v1/federation_pb.js";
import { RegistryService } from "../../gen/imeifed/v1/registry_pb.js";
import { Code, ImeifedError } from "../../errors/index.js";
import { createClient } from "../../rpc/index.js";
import { spawnGatewayProcess } from "../support/gateway-process.js";
import { spawnRegistryProcess, startTestRegistry, type TestRegistry } from "../support/registry-fixture.js";
import type { ServerProcess } from "../support/server-process.js";
import { createTestTrust, type TestTrust } from "../support/trust-fixture.js";

/** Bad tokens each connection sends: far below any threshold, so only counting per address can stop the flood. */
const BAD_TOKENS_PER_CONNECTION = 10;
/** The gateway's threshold in this test (its config field); the registry keeps its default. */
const GATEWAY_FAILURES_PER_MINUTE = 100;
const REGISTRY_DEFAULT_FAILURES_PER_MINUTE = 300;

/** The same token with a signature that does not verify (well-formed, so the server must check it). */
const forged = (token: string) => `${token.slice(0, -2)}${token.endsWith("AA") ? "BB" : "AA"}`;

/** A connection of its own to one subject, and one call over it with `token`. */
interface Connection {
  call(token: string): Promise<unknown>;
  close(): void;
}

/** grpc-js would otherwise share one connection between clients of one address. */
const OWN_CONNECTION = { channelOptions: { "grpc.use_local_subchannel_pool": 1 } };
const IMEI = "490154203237518";

describe("failed authentications from one address over many connections (real processes)", function () {
  this.timeout(60_000);
  let trust: TestTrust;
  let dir: string;
  let upstream: TestRegistry;
  let registry: ServerProcess;
  let gateway: ServerProcess;

  before(async () => {
    trust = await createTestTrust();
    dir = mkdtempSync(join(tmpdir(), "imeifed-auth-failures-"));
    upstream = await startTestRegistry({ country: "ES", trust });
    [registry, gateway] = await Promise.all([
      spawnRegistryProcess({ country: "GB", trust, db: { sqlite: join(dir, "gb.sqlite") } }),
      spawnGatewayProcess({ trust, registries: [{ country: "ES", address: upstream.registry.address }], config: { auth: { failuresPerAddressPerMinute: GATEWAY_FAILURES_PER_MINUTE } } }),
    ]);
  });

  after(async () => {
    await registry?.kill();
    await gateway?.kill();
    await upstream?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
    await trust?.cleanup();
  });

  const bearer = (token: string) => ({ metadata: { authorization: `Bearer ${token}` }, deadline: 5_000 });
  const subjects: { name: string; threshold: number; audience: string; connect(): Connection }[] = [
    {
      name: "registry",
      threshold: REGISTRY_DEFAULT_FAILURES_PER_MINUTE,
      audience: "registry-gb",
      connect() {
        const client = createClient(RegistryService, registry.address, OWN_CONNECTION);
        return { call: (token) => client.checkDevice({ imei: IMEI, purpose: "CASE-1" }, bearer(token)), close: () => client.close() };
      },
    },
    {
      name: "gateway",
      threshold: GATEWAY_FAILURES_PER_MINUTE,
      audience: "gateway",
      connect() {
        const client = createClient(FederationService, gateway.address, OWN_CONNECTION);
        return { call: (token) => client.lookup({ imei: IMEI, purpose: "case GB-1" }, bearer(token)), close: () => client.close() };
      },
    },
  ];

  for (const { name, threshold, audience, connect } of subjects) {
    it(`limits the address at the ${name}'s threshold, and keeps admitting its token verified before`, async () => {
      /** `calls` calls with `token` over one new connection; resolves to the errors they ended with. */
      const overNewConnection = async (token: string, calls = 1): Promise<unknown[]> => {
        const connection = connect();
        const errors: unknown[] = [];
        try {
          for (let i = 0; i < calls; i++) await connection.call(token).catch((error: unknown) => errors.push(error));
        } finally {
          connection.close();
        }
        return errors;
      };

      const remembered = await trust.token("police-gb", { audience, ttlSec: 600 });
      assert.deepEqual(await overNewConnection(remembered), [], "verified, and remembered by the server");
      const bad = forged(await trust.token("police-gb", { audience, ttlSec: 600 }));
      const connections = threshold / BAD_TOKENS_PER_CONNECTION;
      // Ten connections at a time, each from its own port; every bad token is checked and fails.
      for (let first = 0; first < connections; first += 10) {
        const batch = await Promise.all(Array.from({ length: Math.min(10, connections - first) }, () => overNewConnection(bad, BAD_TOKENS_PER_CONNECTION)));
        for (const error of batch.flat()) {
          assert.ok(error instanceof ImeifedError);
          assert.deepEqual([Code[error.code], error.reason], ["UNAUTHENTICATED", "TOKEN_BAD_SIGNATURE"]);
        }
        assert.equal(batch.flat().length, Math.min(10, connections - first) * BAD_TOKENS_PER_CONNECTION, "no forged token was admitted");
      }

      const fresh = await trust.token("police-gb", { audience, ttlSec: 600 });
      const [refused] = await overNewConnection(fresh);
      assert.ok(refused instanceof ImeifedError, "a new token from the address is refused");
      assert.deepEqual([Code[refused.code], refused.reason], ["RESOURCE_EXHAUSTED", "AUTH_FAILURES"], refused.message);
      assert.match(refused.message, new RegExp(`^${threshold} failed authentications from 127\\.0\\.0\\.1 in the last 60 s`));
      assert.deepEqual(await overNewConnection(remembered), [], "the token verified before the flood is still admitted");
    });
  }
});
