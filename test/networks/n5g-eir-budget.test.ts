import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RunningGateway } from "../../gateway/gateway-server.js";
import type { EquipmentCheckEvent } from "../../networks/index.js";
import { spawnRegistryProcess, startTestRegistry, type RegistryProcess, type TestRegistry } from "../support/registry-fixture.js";
import { createTestTrust, DEFAULT_TEST_PRINCIPALS, type TestTrust } from "../support/trust-fixture.js";
import { imeiOf } from "../screening/support/screening-federation.js";
import { H2cEir, specValidators, startEirGateway } from "./support/eir-client.js";

const PATH = "/n5g-eir-eic/v1/equipment-status";
const STOLEN_GB = "35693803810017";
const BUDGET_MS = 300;
const validate = specValidators();

describe("N5g-eir with a registry hung (SIGSTOP): the operator's budget and unanswered policy", function () {
  this.timeout(60_000);
  let trust: TestTrust;
  let dir: string;
  const registries: TestRegistry[] = [];
  let hung: RegistryProcess;
  let gateway: RunningGateway;
  let h2: H2cEir;
  let serial = 820_000;
  const fresh = () => `35693803${serial++}`;
  const events: EquipmentCheckEvent[] = [];
  const counted = new Map<string, number>();
  const tokens = new Map<string, string>();
  const ask = (operator: string, body: string) => h2.get(`${PATH}?pei=imei-${imeiOf(body)}`, { authorization: `Bearer ${tokens.get(operator)}` });

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "imeifed-n5g-budget-"));
    trust = await createTestTrust([
      ...DEFAULT_TEST_PRINCIPALS,
      { id: "operator-hk", kind: "operator", country: "HK" },
      { id: "operator-strict", kind: "operator", country: "AE" },
    ]);
    for (const country of ["GB", "ES", "JP", "BR"]) {
      registries.push(await startTestRegistry({ country, trust, ...(country === "GB" ? { seed: [{ imeis: [imeiOf(STOLEN_GB)] }] } : {}) }));
    }
    hung = await spawnRegistryProcess({ country: "US", trust, db: { sqlite: join(dir, "us.sqlite") } });
    gateway = await startEirGateway(
      trust,
      [...registries.map((r) => ({ country: r.registry.country, address: r.registry.address, id: r.id })), { country: "US", address: hung.address, id: "registry-us" }],
      {
        deadlines: { upstreamMaxMs: 2_000, marginMs: 25 },
        // The circuit stays closed, so every check really waits on the hung registry.
        breaker: { failureThreshold: 1_000, coolDownMs: 300 },
        admission: { maxInFlight: 2 },
        networks: { n5gEir: { listen: "127.0.0.1:0", budgetMs: BUDGET_MS, operators: { "operator-strict": { onUnanswered: "BLACKLISTED" } } } },
      },
      {
        onNetworkAnswer: (_front, event) => events.push(event),
        metrics: { equipmentCheck: (status, basis) => counted.set(`${status} ${basis}`, (counted.get(`${status} ${basis}`) ?? 0) + 1) },
      },
    );
    h2 = new H2cEir(gateway.networks.n5gEir!.url);
    for (const id of ["operator-hk", "operator-strict"]) tokens.set(id, await trust.token(id, { audience: "gateway", ttlSec: 600 }));
    // Warm the session and the token cache while everyone answers.
    assert.equal((await ask("operator-hk", fresh())).status, 200);
    hung.child.kill("SIGSTOP");
  });
  after(async () => {
    h2?.close();
    if (hung) {
      hung.child.kill("SIGCONT");
      await hung.stop();
    }
    await gateway?.shutdown(100);
    for (const r of registries) await r.cleanup();
    await trust?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it("never exceeds the budget, and answers a device no registry that answered lists by the unanswered policy (WHITELISTED by default)", async () => {
    for (let i = 0; i < 5; i++) {
      events.length = 0;
      const answer = await ask("operator-hk", fresh());
      assert.equal(answer.status, 200, answer.body);
      assert.equal(validate.eirResponse(answer.json), undefined);
      assert.deepEqual(answer.json, { status: "WHITELISTED" });
      assert.equal(events[0]?.basis, "unanswered-policy");
      assert.deepEqual(events[0]?.unanswered, ["US"]);
      assert.ok(events[0]!.elapsedMs <= BUDGET_MS, `the gateway answered after ${events[0]!.elapsedMs} ms, past its ${BUDGET_MS} ms budget`);
      // Loopback and the client's own turn of the event loop on a shared, busy machine.
      assert.ok(answer.elapsedMs < BUDGET_MS + 100, `the core waited ${Math.round(answer.elapsedMs)} ms`);
    }
    assert.ok((counted.get("WHITELISTED unanswered-policy") ?? 0) >= 5, "the policy's answers are counted in the metrics");
  });

  it("lets a finding that arrived decide while a registry hangs", async () => {
    events.length = 0;
    const answer = await ask("operator-hk", STOLEN_GB);
    assert.deepEqual(answer.json, { status: "BLACKLISTED" });
    assert.equal(events[0]?.basis, "finding");
    assert.deepEqual(events[0]?.unanswered, ["US"]);
    assert.ok(answer.elapsedMs < BUDGET_MS + 100);
  });

  it("applies an operator's own unanswered policy", async () => {
    const answer = await ask("operator-strict", fresh());
    assert.deepEqual(answer.json, { status: "BLACKLISTED" });
  });

  it("answers 503 ProblemDetails at once when the gateway cannot take another check", async () => {
    const slow = [ask("operator-hk", fresh()), ask("operator-hk", fresh())];
    await new Promise((resolve) => setTimeout(resolve, 50));
    const refused = await ask("operator-strict", fresh());
    assert.equal(refused.status, 503, refused.body);
    assert.equal(refused.headers["content-type"], "application/problem+json");
    assert.equal(validate.problemDetails(refused.json), undefined);
    assert.equal((refused.json as { type: string }).type, "urn:imeifed:reason:SERVER_BUSY");
    assert.ok(refused.headers["retry-after"], "a retry hint");
    assert.ok(refused.elapsedMs < 100, `the refusal took ${Math.round(refused.elapsedMs)} ms`);
    for (const answer of await Promise.all(slow)) assert.equal(answer.status, 200);
  });
});
