import assert from "node:assert/strict";
import * as http2 from "node:http2";
import * as net from "node:net";
import type { RunningGateway } from "../../gateway/gateway-server.js";
import { startTestRegistry, type TestRegistry } from "../support/registry-fixture.js";
import { createTestTrust, DEFAULT_TEST_PRINCIPALS, type TestTrust } from "../support/trust-fixture.js";
import { imeiOf } from "../screening/support/screening-federation.js";
import { eventually } from "../support/waiting.js";
import { H2cEir, http1Get, specValidators, startEirGateway } from "./support/eir-client.js";

const PATH = "/n5g-eir-eic/v1/equipment-status";
const LISTED = "35693803910011";
const validate = specValidators();

describe("N5g-eir bounds: connections, the failed-auth limiter, quotas and the registries' sharing policy", function () {
  this.timeout(30_000);
  let trust: TestTrust;
  let registry: TestRegistry;
  let gateway: RunningGateway;
  let url: string;

  before(async () => {
    trust = await createTestTrust([...DEFAULT_TEST_PRINCIPALS, { id: "operator-hk", kind: "operator", country: "HK" }, { id: "operator-small", kind: "operator", country: "MO" }, { id: "operator-kp", kind: "operator", country: "KP" }]);
    registry = await startTestRegistry({
      country: "GB",
      trust,
      seed: [{ imeis: [imeiOf(LISTED)] }],
      // GB shares nothing with networks of one country, and everything with the others.
      config: { sharing: { rules: [{ kind: "operator", country: "KP", share: "none" }] } },
    });
    gateway = await startEirGateway(trust, [{ country: "GB", address: registry.registry.address, id: registry.id }], {
      auth: { failuresPerAddressPerMinute: 3 },
      quotas: { default: { callsPerSecond: 10_000, devicesPerSecond: 10_000 }, limits: { "operator-small": { callsPerSecond: 1, devicesPerSecond: 1 } } },
      networks: { n5gEir: { listen: "127.0.0.1:0", connections: { maxPerAddress: 3, prefaceTimeoutMs: 300 } } },
    });
    url = gateway.networks.n5gEir!.url;
  });
  after(async () => {
    await gateway?.shutdown(100);
    await registry?.cleanup();
    await trust?.cleanup();
  });

  it("lets a registry's sharing policy refuse operators by kind and country, like anyone", async () => {
    const ask = async (operator: string) =>
      (await http1Get(`${url}${PATH}?pei=imei-${imeiOf(LISTED)}`, { authorization: `Bearer ${await trust.token(operator, { audience: "gateway" })}` })).json;
    assert.deepEqual(await ask("operator-hk"), { status: "BLACKLISTED" });
    // Refused by GB's policy: GB is unanswered for this operator, whose unanswered policy answers.
    assert.deepEqual(await ask("operator-kp"), { status: "WHITELISTED" });
  });

  it("counts an operator's calls against its quota: past it, 429 ProblemDetails with Retry-After", async () => {
    const token = await trust.token("operator-small", { audience: "gateway" });
    const ask = () => http1Get(`${url}${PATH}?pei=imei-${imeiOf("35693803900012")}`, { authorization: `Bearer ${token}` });
    assert.equal((await ask()).status, 200);
    const refused = await ask();
    assert.equal(refused.status, 429, refused.body);
    assert.equal(validate.problemDetails(refused.json), undefined);
    assert.equal((refused.json as { type: string }).type, "urn:imeifed:reason:QUOTA_CALLS");
    assert.ok(Number(refused.headers["retry-after"]) >= 1);
  });

  it("refuses an address whose tokens failed too often with 429, unverified, while a remembered token still passes", async () => {
    const good = await trust.token("operator-hk", { audience: "gateway" });
    const eir = new H2cEir(url);
    try {
      const path = `${PATH}?pei=imei-${imeiOf("35693803900020")}`;
      assert.equal((await eir.get(path, { authorization: `Bearer ${good}` })).status, 200, "the good token is verified and remembered");
      const forged = good.slice(0, -4) + (good.endsWith("AAAA") ? "BBBB" : "AAAA");
      for (let i = 0; i < 3; i++) assert.equal((await eir.get(path, { authorization: `Bearer ${forged}` })).status, 401);
      const limited = await eir.get(path, { authorization: `Bearer ${forged}` });
      assert.equal(limited.status, 429, limited.body);
      assert.equal(validate.problemDetails(limited.json), undefined);
      assert.equal((limited.json as { type: string }).type, "urn:imeifed:reason:AUTH_FAILURES");
      assert.equal((await eir.get(path, { authorization: `Bearer ${good}` })).status, 200, "a remembered token costs no verification and passes");
    } finally {
      eir.close();
    }
  });

  it("resets connections past the per-address cap, and closes one that never starts talking", async () => {
    const { port } = gateway.networks.n5gEir!;
    const open: net.Socket[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const socket = net.connect(port, "127.0.0.1");
        socket.on("error", () => {});
        await new Promise((resolve) => socket.once("connect", resolve));
        open.push(socket);
      }
      await eventually("three connections counted", () => gateway.networks.n5gEir!.connections === 3);
      const fourth = http2.connect(url);
      const failed = await new Promise<boolean>((resolve) => {
        fourth.once("error", () => resolve(true));
        fourth.once("close", () => resolve(true));
        fourth.once("remoteSettings", () => resolve(false));
      });
      fourth.destroy();
      assert.equal(failed, true, "the fourth connection from one address is refused");
      // The three silent sockets are closed at the preface deadline.
      await eventually("silent connections closed", () => open.every((s) => s.destroyed || s.readyState === "closed"), { timeoutMs: 3_000 });
      await eventually("connections released", () => gateway.networks.n5gEir!.connections === 0, { timeoutMs: 3_000 });
    } finally {
      for (const s of open) s.destroy();
    }
  });
});
