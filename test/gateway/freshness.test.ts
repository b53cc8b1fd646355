import assert from "node:assert/strict";
import { Verdict, type LookupResponse } from "../../gen/imeifed/v1/federation_pb.js";
import { createTestTrust, type TestTrust } from "../support/trust-fixture.js";
import { startTestGateway, type TestGateway } from "./support/test-gateway.js";
import { startToyRegistry, type ToyRegistry } from "./support/toy-registry.js";
import { eventually, within } from "../support/waiting.js";

const verdict = (r: LookupResponse) => Verdict[r.verdict];


describe("gateway cache freshness through WatchChanges (toy registries)", function () {
  this.timeout(20_000);
  let trust: TestTrust;
  let gb: ToyRegistry;
  let es: ToyRegistry;
  let gw: TestGateway;
  let serial = 200_000;
  const fresh = () => `35693803${String(serial++).padStart(6, "0")}`;

  before(async () => {
    trust = await createTestTrust();
    gb = await startToyRegistry({ country: "GB", trust });
    es = await startToyRegistry({ country: "ES", trust });
    gw = await startTestGateway({
      trust,
      registries: [gb, es].map((r) => ({ country: r.country, address: r.address })),
      // Listed and unlisted answers both kept for a long time: only the change stream can make them go.
      config: { cache: { maxEntries: 10_000, listedTtlMs: 3_600_000, unlistedTtlMs: 3_600_000 } },
    });
  });
  after(async () => {
    await gw?.shutdown();
    await gb?.shutdown();
    await es?.shutdown();
    await trust?.cleanup();
  });

  it("a device cleared in its registry stops reading PROHIBITED within 1 second", async () => {
    const imei = fresh();
    gb.list(imei);
    const c = gw.client("police-es");
    const read = async () => verdict(await c.lookup({ imei, purpose: "case 1" }));
    await within(1_000, read, "PROHIBITED");
    assert.equal((await c.lookup({ imei, purpose: "case 1" })).fromCache, true, "the PROHIBITED answer is cached");
    gb.clear(imei);
    await within(1_000, read, "PERMITTED");
  });

  it("a newly reported device reads PROHIBITED within 1 second even with a clean answer cached", async () => {
    const imei = fresh();
    const c = gw.client("police-es");
    const read = async () => verdict(await c.lookup({ imei, purpose: "case 2" }));
    assert.equal(await read(), "PERMITTED");
    assert.equal((await c.lookup({ imei, purpose: "case 2" })).fromCache, true, "the clean answer is cached");
    es.list(imei);
    await within(1_000, read, "PROHIBITED");
  });

  it("a new registry epoch drops everything cached from that registry", async () => {
    const imei = fresh();
    const c = gw.client("police-gb");
    assert.equal(verdict(await c.lookup({ imei, purpose: "case 3" })), "PERMITTED");
    // Listed without a change record (as after a database restore): only dropping the cache reveals it.
    gb.list(imei, undefined, true);
    assert.equal(verdict(await c.lookup({ imei, purpose: "case 3" })), "PERMITTED", "still the cached answer");
    gb.newEpoch();
    await within(1_000, async () => verdict(await c.lookup({ imei, purpose: "case 3" })), "PROHIBITED");
    assert.ok(await gw.gateway.ready(2_000), "the follower caught up again under the new epoch");
    assert.equal(gw.gateway.followers.get("GB")!.position.epoch.endsWith("+"), true);
  });

  it("does not serve a registry's cached answers while its change stream is down", async () => {
    const imei = fresh();
    const c = gw.client("police-jp");
    assert.equal(verdict(await c.lookup({ imei, purpose: "case 4" })), "PERMITTED");
    assert.equal((await c.lookup({ imei, purpose: "case 4" })).fromCache, true);
    const follower = gw.gateway.followers.get("ES")!;
    await es.shutdown();
    await eventually("the follower of a shut-down registry to stop being live", () => !follower.live, { timeoutMs: 1_000 });
    const r = await c.lookup({ imei, purpose: "case 4" });
    assert.equal(r.fromCache, false);
    assert.equal(verdict(r), "UNKNOWN", "ES is unanswered, not assumed clean");
  });
});

describe("gateway change follower and watch lifetimes (toy registry)", function () {
  this.timeout(20_000);
  let trust: TestTrust;
  let gb: ToyRegistry;
  let gw: TestGateway;

  before(async () => {
    trust = await createTestTrust();
    // Every change stream ends after 200 ms, as when its token expires.
    gb = await startToyRegistry({ country: "GB", trust, watchLifetimeMs: 200 });
    gw = await startTestGateway({
      trust,
      registries: [{ country: gb.country, address: gb.address }],
      // A failure would be retried only after 5 s: a stream that merely outlived its token must not wait that.
      config: { cache: { maxEntries: 10_000, listedTtlMs: 3_600_000, unlistedTtlMs: 3_600_000 }, freshness: { reconnectMinMs: 5_000, reconnectMaxMs: 5_000 } },
    });
  });
  after(async () => {
    await gw?.shutdown();
    await gb?.shutdown();
    await trust?.cleanup();
  });

  it("reopens a change stream that outlived its token at once, and keeps the cache true across reopenings", async () => {
    assert.ok(await gw.gateway.ready(2_000), "following GB");
    const opened = gb.watchOpens;
    // Each stream ends after 200 ms; reopened only after the 5 s reconnect backoff, four reopenings would take 20 s.
    await eventually("four reopenings of the change stream", () => gb.watchOpens - opened >= 4, { timeoutMs: 4_000 });
    const imei = `35693803${String(990_001).padStart(6, "0")}`;
    const c = gw.client("police-es");
    const read = async () => verdict(await c.lookup({ imei, purpose: "case 9" }));
    assert.equal(await read(), "PERMITTED");
    gb.list(imei);
    await within(1_000, read, "PROHIBITED");
  });
});
