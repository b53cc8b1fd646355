import assert from "node:assert/strict";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { RegistryService } from "../../../gen/imeifed/v1/registry_pb.js";
import { Code } from "../../../errors/index.js";
import { createClient, type RunningHost } from "../../../rpc/index.js";
import { createAuthenticator } from "../../../trust/authenticator.js";
import { generatePrincipalKeys, writeJwks, type PrincipalKeys } from "../../../trust/keys.js";
import { mintToken } from "../../../trust/token-minter.js";
import { TrustStore } from "../../../trust/trust-store.js";
import { ECHO_SCOPES, echoed, startEchoRegistry } from "./echo-registry.js";
import { refused } from "./refused.js";

const police = (keys: Record<string, unknown>) => ({
  principals: [{ id: "police-es", name: "Policía Nacional", country: "ES", kind: "police", scopes: ["devices:check"], keys }],
});

describe("key rotation", () => {
  let k1: PrincipalKeys;
  let k2: PrincipalKeys;
  const tokenBy = (keys: PrincipalKeys) => mintToken({ issuer: "police-es", privateJwk: keys.privateJwk, audience: "registry-es", scopes: ["devices:check"] });

  before(async () => {
    [k1, k2] = await Promise.all([generatePrincipalKeys("police-es"), generatePrincipalKeys("police-es", "EdDSA")]);
  });

  /** Starts the echo registry trusting `trust` and returns a checker that answers the admitted principal. */
  async function serve(trust: TrustStore): Promise<{ host: RunningHost; check: (token: string) => Promise<string | null>; close: () => Promise<void> }> {
    const host = await startEchoRegistry({ interceptors: [createAuthenticator({ trust, audience: "registry-es", scopes: { ...ECHO_SCOPES } })] });
    const client = createClient(RegistryService, host.address);
    return {
      host,
      check: async (token) => echoed((await client.checkDevice({ imei: "490154203237518" }, { metadata: { authorization: `Bearer ${token}` } })).check?.finding?.reportingAgency).principal,
      close: async () => {
        client.close();
        await host.shutdown();
      },
    };
  }

  describe("through a JWKS file and reload()", () => {
    let dir: string;
    let jwksFile: string;
    let trust: TrustStore;
    let server: Awaited<ReturnType<typeof serve>>;

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), "imeifed-rotation-"));
      jwksFile = join(dir, "police-es.jwks.json");
      await writeJwks(jwksFile, k1.publicJwks);
      await writeFile(join(dir, "trust.yaml"), `principals:\n  - id: police-es\n    name: Policía Nacional\n    country: ES\n    kind: police\n    scopes: [devices:check]\n    keys: { jwksFile: police-es.jwks.json }\n`);
      trust = await TrustStore.load(join(dir, "trust.yaml"));
      server = await serve(trust);
    });
    after(async () => {
      await server?.close();
      await rm(dir, { recursive: true, force: true });
    });

    it("verifies tokens of every published key, and stops verifying a removed key after reload, cached or not", async () => {
      const old1 = await tokenBy(k1);
      assert.equal(await server.check(old1), "police-es");
      await refused(server.check(await tokenBy(k2)), Code.UNAUTHENTICATED, "TOKEN_UNKNOWN_KID", k2.privateJwk.kid!);

      // Rotation, step 1: publish the new key next to the old one.
      await writeJwks(jwksFile, { keys: [...k1.publicJwks.keys, ...k2.publicJwks.keys] });
      await trust.reload();
      assert.equal(await server.check(old1), "police-es");
      assert.equal(await server.check(await tokenBy(k2)), "police-es");

      // Step 2: withdraw the old key. The token verified (and cached) before must stop working too.
      await writeJwks(jwksFile, k2.publicJwks);
      await trust.reload();
      await refused(server.check(old1), Code.UNAUTHENTICATED, "TOKEN_UNKNOWN_KID", `key id ${k1.privateJwk.kid} is not among the published keys of police-es`);
      await refused(server.check(await tokenBy(k1)), Code.UNAUTHENTICATED, "TOKEN_UNKNOWN_KID");
      assert.equal(await server.check(await tokenBy(k2)), "police-es");
    });

    it("keeps the previous keys when a reload finds a broken trust file", async () => {
      await writeFile(jwksFile, "{ not json");
      await assert.rejects(trust.reload(), /TRUST|JWKS|JSON/);
      assert.equal(await server.check(await tokenBy(k2)), "police-es");
      await writeJwks(jwksFile, k2.publicJwks);
    });
  });

  describe("through a JWKS URL", () => {
    let http: Server;
    let url: string;
    let published: PrincipalKeys[] = [];
    let status = 200;
    let fetches = 0;

    before(async () => {
      http = createServer((_req, res) => {
        fetches++;
        res.writeHead(status, { "content-type": "application/json" });
        res.end(JSON.stringify({ keys: published.flatMap((k) => k.publicJwks.keys) }));
      });
      http.listen(0, "127.0.0.1");
      await once(http, "listening");
      url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/.well-known/jwks.json`;
    });
    after(async () => {
      http.closeAllConnections();
      await new Promise((resolve) => http.close(resolve));
    });
    beforeEach(() => {
      published = [k1];
      status = 200;
      fetches = 0;
    });

    it("fetches the JWKS once, then refetches on a new kid so a rotated-in key verifies without a restart", async () => {
      const trust = await TrustStore.fromObject(police({ jwksUrl: url }), tmpdir(), { jwksCooldownMs: 0 });
      const server = await serve(trust);
      try {
        assert.equal(await server.check(await tokenBy(k1)), "police-es");
        assert.equal(await server.check(await tokenBy(k1)), "police-es");
        assert.equal(fetches, 1);
        published = [k1, k2];
        assert.equal(await server.check(await tokenBy(k2)), "police-es");
        assert.equal(fetches, 2);
      } finally {
        await server.close();
      }
    });

    it("refuses an unknown kid after at most one refetch per cooldown, so forged kids cannot make it hammer the partner", async () => {
      const trust = await TrustStore.fromObject(police({ jwksUrl: url }), tmpdir(), { jwksCooldownMs: 60_000 });
      const server = await serve(trust);
      try {
        assert.equal(await server.check(await tokenBy(k1)), "police-es");
        for (let i = 0; i < 3; i++) {
          const forged = await generatePrincipalKeys("police-es");
          await refused(server.check(await tokenBy(forged)), Code.UNAUTHENTICATED, "TOKEN_UNKNOWN_KID", `is not in the JWKS of police-es at ${url}`);
        }
        assert.equal(fetches, 1);
      } finally {
        await server.close();
      }
    });

    it("answers UNAVAILABLE when the partner's JWKS cannot be fetched", async () => {
      status = 500;
      const trust = await TrustStore.fromObject(police({ jwksUrl: url }), tmpdir());
      const server = await serve(trust);
      try {
        const error = await refused(server.check(await tokenBy(k1)), Code.UNAVAILABLE, "KEYS_UNAVAILABLE", `the keys of police-es could not be fetched from ${url}; retry later`);
        assert.ok(error.retryAfterMs !== undefined && error.retryAfterMs > 0);
      } finally {
        await server.close();
      }
    });
  });
});
