import assert from "node:assert/strict";
import { RegistryService } from "../../../gen/imeifed/v1/registry_pb.js";
import { Code, ImeifedError } from "../../../errors/index.js";
import { createClient, type RunningHost } from "../../../rpc/index.js";
import { AuthFailureLimiter } from "../../../trust/auth-failure-limiter.js";
import { createTestTrust, type TestTrust } from "../../support/trust-fixture.js";
import { ECHO_SCOPES, startEchoRegistry } from "./echo-registry.js";
import { refused } from "./refused.js";

describe("failed authentications per address", () => {
  describe("in the authenticator (real sockets)", () => {
    let fixture: TestTrust;
    let host: RunningHost;
    let client: ReturnType<typeof createClient<typeof RegistryService>>;
    /** How far the server's clock is ahead of the real one (tests move it past the minute). */
    let ahead = 0;
    let signatureChecks = 0;

    before(async () => {
      fixture = await createTestTrust();
      const lookup = fixture.trust.verificationKey.bind(fixture.trust);
      fixture.trust.verificationKey = (id, header) => {
        signatureChecks++;
        return lookup(id, header);
      };
      host = await startEchoRegistry({ interceptors: [fixture.authenticator("registry-gb", { ...ECHO_SCOPES }, { failuresPerAddressPerMinute: 3, now: () => Date.now() + ahead })] });
      client = createClient(RegistryService, host.address);
    });
    after(async () => {
      client?.close();
      await host?.shutdown();
      await fixture?.cleanup();
    });

    const check = (token: string) => client.checkDevice({ imei: "490154203237518" }, { metadata: { authorization: `Bearer ${token}` } });
    const forged = (token: string) => `${token.slice(0, -2)}${token.endsWith("AA") ? "BB" : "AA"}`;

    it("refuses an address's new tokens unchecked once it failed too often, still admits a remembered one, and forgets after the minute", async () => {
      const remembered = await fixture.token("police-gb", { audience: "registry-gb" });
      await check(remembered);
      const bad = forged(await fixture.token("police-gb", { audience: "registry-gb" }));
      for (let i = 0; i < 3; i++) await refused(check(bad), Code.UNAUTHENTICATED, "TOKEN_BAD_SIGNATURE");
      signatureChecks = 0;
      const fresh = await fixture.token("police-gb", { audience: "registry-gb" });
      await assert.rejects(check(fresh), (error: unknown) => {
        assert.ok(error instanceof ImeifedError);
        assert.deepEqual([Code[error.code], error.reason], ["RESOURCE_EXHAUSTED", "AUTH_FAILURES"]);
        assert.match(error.message, /3 failed authentications from 127\.0\.0\.1/);
        assert.ok(error.retryAfterMs !== undefined && error.retryAfterMs > 0 && error.retryAfterMs <= 60_000, `retry after ${error.retryAfterMs}`);
        return true;
      });
      assert.equal(signatureChecks, 0, "a refused token's signature is not checked");
      // A token verified before costs no signature check: a legitimate caller behind the same address goes on.
      await check(remembered);
      ahead = 60_000;
      await check(fresh);
      assert.equal(signatureChecks, 1);
    });
  });

  describe("on its own", () => {
    it("counts failures per address within a window and stays within its bound of addresses", () => {
      let now = 0;
      const limiter = new AuthFailureLimiter({ maxFailures: 2, windowMs: 1_000, maxAddresses: 2, now: () => now });
      limiter.fail("a");
      limiter.check("a");
      limiter.fail("a");
      assert.throws(() => limiter.check("a"), (e: unknown) => e instanceof ImeifedError && e.retryAfterMs === 1_000);
      limiter.check("b"); // another address is not held to a's failures
      now = 999;
      assert.throws(() => limiter.check("a"), (e: unknown) => e instanceof ImeifedError && e.retryAfterMs === 1);
      now = 1_000;
      limiter.check("a"); // a new window
      limiter.fail("a");
      limiter.fail("a");
      limiter.fail("b");
      limiter.fail("c"); // a third address: the least recently failing one (a) is forgotten
      limiter.check("a");
    });
  });
});
