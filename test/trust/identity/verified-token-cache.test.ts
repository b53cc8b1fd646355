import assert from "node:assert/strict";
import { RegistryService } from "../../../gen/imeifed/v1/registry_pb.js";
import { Code } from "../../../errors/index.js";
import { createClient, type RunningHost } from "../../../rpc/index.js";
import type { Caller } from "../../../trust/principal.js";
import { VerifiedTokenCache } from "../../../trust/verified-token-cache.js";
import { createTestTrust, type TestTrust } from "../../support/trust-fixture.js";
import { ECHO_SCOPES, startEchoRegistry } from "./echo-registry.js";
import { refused } from "./refused.js";

describe("verified-token cache", () => {
  describe("in the authenticator (real sockets)", () => {
    let fixture: TestTrust;
    let host: RunningHost;
    let client: ReturnType<typeof createClient<typeof RegistryService>>;
    let keyLookups = 0;

    before(async () => {
      fixture = await createTestTrust();
      // Count signature verifications: each one asks the trust store for a key.
      const lookup = fixture.trust.verificationKey.bind(fixture.trust);
      fixture.trust.verificationKey = (id, header) => {
        keyLookups++;
        return lookup(id, header);
      };
      host = await startEchoRegistry({ interceptors: [fixture.authenticator("registry-gb", { ...ECHO_SCOPES })] });
      client = createClient(RegistryService, host.address);
    });
    after(async () => {
      client?.close();
      await host?.shutdown();
      await fixture?.cleanup();
    });
    beforeEach(() => {
      keyLookups = 0;
    });

    const check = (token: string) => client.checkDevice({ imei: "490154203237518" }, { metadata: { authorization: `Bearer ${token}` } });

    it("verifies a reused token's signature once", async () => {
      const token = await fixture.token("police-gb", { audience: "registry-gb" });
      for (let i = 0; i < 5; i++) await check(token);
      assert.equal(keyLookups, 1);
    });

    it("still checks the method's scope for a remembered token", async () => {
      const token = await fixture.token("police-gb", { audience: "registry-gb", scopes: ["devices:check"] });
      await check(token);
      await refused(client.reportDevice({}, { metadata: { authorization: `Bearer ${token}` } }), Code.PERMISSION_DENIED, "SCOPE_REQUIRED");
      assert.equal(keyLookups, 1);
    });

    it("sends an altered token through full verification", async () => {
      const token = await fixture.token("police-gb", { audience: "registry-gb" });
      await check(token);
      await refused(check(`${token.slice(0, -2)}${token.endsWith("AA") ? "BB" : "AA"}`), Code.UNAUTHENTICATED, "TOKEN_BAD_SIGNATURE");
      assert.equal(keyLookups, 2);
    });

    it("forgets every token when the trust store is reloaded", async () => {
      const token = await fixture.token("police-gb", { audience: "registry-gb" });
      await check(token);
      await fixture.trust.reload();
      await check(token);
      assert.equal(keyLookups, 2);
    });
  });

  describe("on its own", () => {
    const caller = (expiresAt: number): Caller => ({
      principal: { id: "police-es", name: "p", country: "ES", kind: "police", scopes: [], tacPrefixes: [] },
      scopes: new Set(),
      expiresAt,
    });

    it("drops an entry once its token expires", () => {
      let clock = 1_000_000;
      const cache = new VerifiedTokenCache({ now: () => clock });
      cache.set("t", caller(1_010));
      assert.ok(cache.get("t"));
      clock = 1_010_000;
      assert.equal(cache.get("t"), undefined);
      assert.equal(cache.size, 0);
    });

    it("does not remember a token that has already expired", () => {
      const cache = new VerifiedTokenCache({ now: () => 2_000_000 });
      cache.set("t", caller(1_999));
      assert.equal(cache.size, 0);
    });

    it("stays within its bound, evicting the least recently used token", () => {
      const cache = new VerifiedTokenCache({ max: 2, now: () => 0 });
      cache.set("a", caller(100));
      cache.set("b", caller(100));
      cache.get("a");
      cache.set("c", caller(100));
      assert.equal(cache.size, 2);
      assert.ok(cache.get("a"));
      assert.equal(cache.get("b"), undefined);
    });
  });
});
