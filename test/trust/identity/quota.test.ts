import assert from "node:assert/strict";
import { RegistryService } from "../../../gen/imeifed/v1/registry_pb.js";
import { Code } from "../../../errors/index.js";
import { createClient, type RunningHost } from "../../../rpc/index.js";
import { createQuotaInterceptor, QuotaLimiter } from "../../../trust/quota.js";
import { createTestTrust, type TestTrust } from "../../support/trust-fixture.js";
import { ECHO_SCOPES, startEchoRegistry } from "./echo-registry.js";
import { refused } from "./refused.js";

describe("quotas", () => {
  describe("per-principal call quota (real sockets, controlled clock)", () => {
    let fixture: TestTrust;
    let host: RunningHost;
    let clock = 1_000_000;
    const now = () => clock;
    const clients: ReturnType<typeof createClient<typeof RegistryService>>[] = [];
    const clientFor = (id: string, act?: { id: string; kind: "police" | "customs"; country: string }) => {
      const client = createClient(RegistryService, host.address, { metadata: fixture.metadataFor(id, "registry-gb", ["devices:check"], act) });
      clients.push(client);
      return client;
    };
    const check = (client: ReturnType<typeof clientFor>) => client.checkDevice({ imei: "490154203237518" });

    before(async () => {
      fixture = await createTestTrust();
      host = await startEchoRegistry({
        interceptors: [
          fixture.authenticator("registry-gb", { ...ECHO_SCOPES }),
          createQuotaInterceptor(
            {
              limits: { "police-es": { callsPerSecond: 2, devicesPerSecond: 100 }, gateway: { callsPerSecond: 3, devicesPerSecond: 1000 } },
              default: { callsPerSecond: 1, devicesPerSecond: 10 },
            },
            { now },
          ),
        ],
      });
    });
    after(async () => {
      for (const client of clients) client.close();
      await host?.shutdown();
      await fixture?.cleanup();
    });

    it("refuses the call over the limit with RESOURCE_EXHAUSTED and a retry delay in the trailers, then admits it after the delay", async () => {
      const police = clientFor("police-es");
      await check(police);
      await check(police);
      const error = await refused(check(police), Code.RESOURCE_EXHAUSTED, "QUOTA_CALLS", "police-es is over its quota of 2 calls per second; retry in 500 ms");
      assert.equal(error.retryAfterMs, 500);
      clock += 499;
      await refused(check(police), Code.RESOURCE_EXHAUSTED, "QUOTA_CALLS", "retry in 1 ms");
      clock += 1;
      await check(police);
    });

    it("keeps each principal's budget apart, and applies the default to principals without an entry", async () => {
      clock += 10_000;
      const police = clientFor("police-es");
      const customs = clientFor("customs-gb");
      await check(police);
      await check(police);
      await refused(check(police), Code.RESOURCE_EXHAUSTED, "QUOTA_CALLS");
      await check(customs);
      const error = await refused(check(customs), Code.RESOURCE_EXHAUSTED, "QUOTA_CALLS", "customs-gb is over its quota of 1 calls per second");
      assert.equal(error.retryAfterMs, 1000);
    });

    it("limits the gateway as one principal, whoever it calls for", async () => {
      clock += 10_000;
      await check(clientFor("gateway", { id: "police-us", kind: "police", country: "US" }));
      await check(clientFor("gateway", { id: "customs-gb", kind: "customs", country: "GB" }));
      await check(clientFor("gateway", { id: "police-jp", kind: "police", country: "JP" }));
      await refused(check(clientFor("gateway", { id: "police-br", kind: "police", country: "BR" })), Code.RESOURCE_EXHAUSTED, "QUOTA_CALLS", "gateway is over its quota");
    });

    it("counts unauthenticated calls to public methods per peer address under the default limit", async () => {
      clock += 10_000;
      const anonymous = createClient(RegistryService, host.address);
      clients.push(anonymous);
      await anonymous.getKeys({});
      await refused(anonymous.getKeys({}), Code.RESOURCE_EXHAUSTED, "QUOTA_CALLS", "peer:127.0.0.1 is over its quota");
    });
  });

  describe("device quota (takeDevices, for screening)", () => {
    let clock = 0;
    const limiter = new QuotaLimiter({ limits: { "customs-gb": { callsPerSecond: 10, devicesPerSecond: 1000, burstSeconds: 2 } }, default: { callsPerSecond: 1, devicesPerSecond: 10 } }, { now: () => clock });

    it("admits batches within the saved-up burst, then asks to wait for the missing devices", () => {
      limiter.takeDevices("customs-gb", 1500);
      limiter.takeDevices("customs-gb", 400);
      assert.throws(
        () => limiter.takeDevices("customs-gb", 300),
        (error: { code: Code; reason: string; retryAfterMs: number }) => error.code === Code.RESOURCE_EXHAUSTED && error.reason === "QUOTA_DEVICES" && error.retryAfterMs === 200,
      );
      clock += 200;
      limiter.takeDevices("customs-gb", 300);
    });

    it("refuses a single batch larger than the burst, asking for smaller batches and not for a retry", () => {
      assert.throws(
        () => limiter.takeDevices("customs-gb", 2001),
        (error: { code: Code; reason: string; retryAfterMs: number | undefined; message: string }) =>
          error.code === Code.RESOURCE_EXHAUSTED && error.reason === "QUOTA_BATCH_TOO_LARGE" && error.retryAfterMs === undefined && error.message.includes("send smaller batches"),
      );
    });

    it("refuses a malformed quota config at start", () => {
      assert.throws(() => new QuotaLimiter({ default: { callsPerSecond: 0, devicesPerSecond: 1 } }), /QUOTA_CONFIG_INVALID|quota config is invalid/);
    });
  });
});
