/**
 * Hub and spoke: a gateway stands where a registry stands. The front gateway
 * asks JP directly and a regional hub (another gateway, federating GB and ES)
 * with Lookup; the hub asks its registries on behalf of the real requester.
 */
import assert from "node:assert/strict";
import { UnansweredReason, Verdict } from "../../gen/imeifed/v1/federation_pb.js";
import { DEFAULT_TEST_PRINCIPALS, createTestTrust, type TestTrust } from "../support/trust-fixture.js";
import { startTestGateway, type TestGateway } from "./support/test-gateway.js";
import { startToyRegistry, type ToyRegistry } from "./support/toy-registry.js";

describe("gateway hub and spoke (a gateway upstream asked with Lookup)", function () {
  this.timeout(20_000);
  let trust: TestTrust;
  let gb: ToyRegistry;
  let es: ToyRegistry;
  let jp: ToyRegistry;
  let hub: TestGateway;
  let front: TestGateway;

  before(async () => {
    trust = await createTestTrust([...DEFAULT_TEST_PRINCIPALS, { id: "gateway-eu", kind: "gateway", country: "ZZ", name: "regional hub" }]);
    gb = await startToyRegistry({ country: "GB", trust });
    es = await startToyRegistry({ country: "ES", trust });
    jp = await startToyRegistry({ country: "JP", trust });
    hub = await startTestGateway({ trust, id: "gateway-eu", registries: [gb, es].map((r) => ({ country: r.country, address: r.address })) });
    front = await startTestGateway({
      trust,
      registries: [
        { country: "EU", kind: "gateway", id: "gateway-eu", address: hub.gateway.address, countries: ["GB", "ES"] },
        { country: "JP", address: jp.address },
      ],
    });
  });
  after(async () => {
    await front?.shutdown();
    await hub?.shutdown();
    for (const r of [gb, es, jp]) await r?.shutdown();
    await trust?.cleanup();
  });

  it("merges the hub's findings with the direct registries', keeping each finding's country", async () => {
    const imei = "35693803400001";
    gb.list(imei);
    const r = await front.client("police-br").lookup({ imei, purpose: "case BR-hub" });
    assert.equal(Verdict[r.verdict], "PROHIBITED");
    assert.deepEqual(r.findings.map((f) => f.finding?.country), ["GB"]);
    assert.deepEqual(r.unanswered, []);
    assert.equal(gb.calls.at(-1)?.actor, "police-br", "the hub asked on behalf of the real requester");
  });

  it("routes a country the hub federates to the hub, and only there", async () => {
    const jpCalls = jp.calls.length;
    const r = await front.client("police-br").lookup({ imei: "35693803400002", countries: ["ES"], purpose: "case BR-hub-2" });
    assert.equal(Verdict[r.verdict], "PERMITTED");
    assert.equal(jp.calls.length, jpCalls);
    assert.deepEqual(es.calls.at(-1)?.keys, ["35693803400002"]);
  });

  it("lists the hub's countries as unanswered when the hub cannot be reached", async () => {
    await hub.shutdown();
    const r = await front.client("police-br").lookup({ imei: "35693803400003", purpose: "case BR-hub-3" }, { deadline: 1_000 });
    assert.deepEqual(r.unanswered.map((u) => `${u.country}:${UnansweredReason[u.reason]}`).sort(), ["ES:UNAVAILABLE", "GB:UNAVAILABLE"]);
    assert.equal(Verdict[r.verdict], "UNKNOWN");
  });
});
