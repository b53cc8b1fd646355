import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { DeviceStatus, FindingSchema } from "../../gen/imeifed/v1/device_pb.js";
import { RegistryFindingSchema } from "../../gen/imeifed/v1/federation_pb.js";
import { SightingKind } from "../../gen/imeifed/v1/registry_pb.js";
import { linkSightingSender, RegistryTripwire, type PendingSighting } from "../../gateway/tripwire/registry-tripwire.js";
import { Code, ImeifedError } from "../../errors/index.js";
import { createTestTrust } from "../support/trust-fixture.js";
import { startTestGateway } from "../gateway/support/test-gateway.js";
import { startToyRegistry } from "../gateway/support/toy-registry.js";
import { devicePacer } from "../../gateway/screening/screening-quota.js";
import { QuotaLimiter } from "../../trust/quota.js";
import type { DeviceKey } from "../../device/index.js";

const KEY = "35693803000011" as DeviceKey;
const finding = (country: string, status: DeviceStatus) => create(RegistryFindingSchema, { finding: create(FindingSchema, { country, status, deviceKey: KEY }) });
const police = { id: "police-es", kind: "police" as const, country: "ES" };

describe("tripwire (queue and drain)", () => {
  it("sends one sighting per foreign owning registry, off the caller's turn", async () => {
    const sent: PendingSighting[] = [];
    const tripwire = new RegistryTripwire({ send: async (batch) => void sent.push(...batch), now: () => Date.parse("2025-03-01T10:00:00Z") });
    tripwire.hit({
      key: KEY,
      findings: [finding("GB", DeviceStatus.PROHIBITED), finding("ES", DeviceStatus.PROHIBITED), finding("BR", DeviceStatus.TRACKED), finding("JP", DeviceStatus.PERMITTED)],
      requester: police,
      kind: SightingKind.LOOKUP_HIT,
      purpose: "case 42",
    });
    assert.equal(sent.length, 0, "nothing is sent on the caller's turn");
    await tripwire.flush();
    assert.deepEqual(sent.map((s) => s.country).sort(), ["BR", "GB"], "not ES (the requester's own) nor JP (not listed)");
    const gb = sent.find((s) => s.country === "GB")!.request;
    assert.equal(gb.imei, "356938030000112");
    assert.equal(gb.kind, SightingKind.LOOKUP_HIT);
    assert.equal(gb.seenInCountry, "ES");
    assert.equal(gb.partnerKind, "police");
    assert.equal(gb.partnerId, "police-es");
    assert.equal(gb.purpose, "case 42");
    assert.equal(timestampDate(gb.seenAt as never).toISOString(), "2025-03-01T10:00:00.000Z");
  });

  it("sends a repeated hit once per window, and again after it", async () => {
    let now = 1_000_000;
    const sent: PendingSighting[] = [];
    const tripwire = new RegistryTripwire({ send: async (batch) => void sent.push(...batch), repeatWindowMs: 1_000, now: () => now });
    const hit = { key: KEY, findings: [finding("GB", DeviceStatus.PROHIBITED)], requester: police, kind: SightingKind.LOOKUP_HIT, purpose: "p" };
    tripwire.hit(hit);
    tripwire.hit(hit);
    tripwire.hit({ ...hit, kind: SightingKind.SCREENING_HIT });
    now += 1_500;
    tripwire.hit(hit);
    await tripwire.flush();
    assert.equal(sent.length, 3);
    assert.equal(tripwire.stats.repeats, 1);
  });

  it("sends a registry's sightings of one partner together, in calls of batchSize, a few calls at once", async () => {
    const calls: PendingSighting[][] = [];
    let inFlight = 0;
    let mostInFlight = 0;
    const tripwire = new RegistryTripwire({
      send: async (batch) => {
        calls.push([...batch]);
        mostInFlight = Math.max(mostInFlight, ++inFlight);
        await new Promise((r) => setTimeout(r, 5));
        inFlight--;
      },
      batchSize: 3,
      maxInFlight: 2,
      repeatWindowMs: 0,
    });
    const customs = { id: "customs-jp", kind: "customs" as const, country: "JP" };
    const key = (i: number) => `3569380300${String(i).padStart(4, "0")}` as DeviceKey;
    for (let i = 0; i < 7; i++) tripwire.hit({ key: key(i), findings: [finding("GB", DeviceStatus.PROHIBITED)], requester: police, kind: SightingKind.SCREENING_HIT, purpose: "p" });
    for (let i = 7; i < 9; i++) tripwire.hit({ key: key(i), findings: [finding("GB", DeviceStatus.PROHIBITED), finding("BR", DeviceStatus.TRACKED)], requester: customs, kind: SightingKind.SCREENING_HIT, purpose: "q" });
    await tripwire.flush();
    const shapes = calls.map((batch) => `${batch[0]!.country}/${batch[0]!.requester.id}:${batch.length}`).sort();
    assert.deepEqual(shapes, ["BR/customs-jp:2", "GB/customs-jp:2", "GB/police-es:1", "GB/police-es:3", "GB/police-es:3"]);
    for (const batch of calls) assert.ok(batch.every((s) => s.country === batch[0]!.country && s.requester.id === batch[0]!.requester.id), "one registry and one partner a call");
    assert.equal(mostInFlight, 2);
    assert.deepEqual(tripwire.stats, { queued: 11, sent: 11, failed: 0, dropped: 0, repeats: 0 });
  });

  it("drops and counts when the queue is full, counts failures, and never throws to the caller", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let calls = 0;
    const failures: number[] = [];
    const tripwire = new RegistryTripwire({
      send: async () => {
        calls++;
        await gate;
        throw new Error("registry down");
      },
      maxQueued: 3,
      batchSize: 2,
      maxInFlight: 1,
      repeatWindowMs: 0,
      lingerMs: 0,
      onFailure: (batch) => failures.push(batch.length),
    });
    const hit = (i: number) => ({ key: `3569380300${String(i).padStart(4, "0")}` as DeviceKey, findings: [finding("GB", DeviceStatus.PROHIBITED)], requester: police, kind: SightingKind.LOOKUP_HIT, purpose: "p" });
    for (let i = 0; i < 3; i++) tripwire.hit(hit(i));
    await new Promise((r) => setImmediate(r));
    // The drain took one call's worth (2); one waits in the queue: room for 2 more.
    for (let i = 3; i < 8; i++) assert.doesNotThrow(() => tripwire.hit(hit(i)));
    assert.equal(tripwire.stats.dropped, 3);
    release();
    await tripwire.flush();
    assert.equal(calls, 3);
    assert.equal(tripwire.stats.failed, 5);
    assert.deepEqual(failures, [2, 2, 1]);
    // A malformed hit is swallowed too.
    assert.doesNotThrow(() => tripwire.hit({ key: "x" as DeviceKey, findings: [finding("GB", DeviceStatus.PROHIBITED)], requester: police, kind: SightingKind.LOOKUP_HIT, purpose: "" }));
  });
});

describe("tripwire over sockets (toy registries)", function () {
  this.timeout(20_000);

  it("sends RecordSightings, and RecordSighting calls to a registry from before it", async () => {
    const trust = await createTestTrust();
    const gb = await startToyRegistry({ country: "GB", trust });
    const jp = await startToyRegistry({ country: "JP", trust, batchSightings: false });
    const gw = await startTestGateway({
      trust,
      registries: [gb, jp].map((r) => ({ country: r.country, address: r.address })),
      tripwire: undefined, // the gateway's own
    });
    const tripwire = gw.gateway.context.tripwire as RegistryTripwire;
    try {
      const stolen = Array.from({ length: 6 }, (_, i) => {
        const imei = `3569380300${String(i).padStart(4, "0")}`;
        gb.list(imei);
        jp.list(imei);
        return imei;
      });
      for (const round of [stolen.slice(0, 3), stolen.slice(3)]) {
        await Promise.all(round.map((imei) => gw.client("police-es").lookup({ imei, purpose: "case ES-1" })));
        await tripwire.flush();
      }
      // GB took each round's hits in RecordSightings calls; JP refused that once, then got a call a sighting.
      assert.ok(gb.sightingCalls.every((c) => c.method === "RecordSightings"));
      assert.equal(gb.sightingCalls.flatMap((c) => c.imeis).length, 6);
      assert.ok(gb.sightingCalls.length <= 4, `${gb.sightingCalls.length} calls for 6 sightings`);
      assert.deepEqual(jp.sightingCalls.map((c) => [c.method, c.imeis.length]), Array.from({ length: 6 }, () => ["RecordSighting", 1]));
      assert.deepEqual(tripwire.stats, { queued: 12, sent: 12, failed: 0, dropped: 0, repeats: 0 });
    } finally {
      await gw.shutdown();
      await gb.shutdown();
      await jp.shutdown();
      await trust.cleanup();
    }
  });
});

describe("tripwire sender", () => {
  it("tries RecordSightings again ten minutes after a registry answered UNIMPLEMENTED", async () => {
    let now = 1_000_000;
    const calls: string[] = [];
    let batched = false;
    const link = {
      kind: "registry",
      metadata: async () => ({}),
      client: {
        recordSightings: async () => {
          calls.push("RecordSightings");
          if (!batched) throw new ImeifedError(Code.UNIMPLEMENTED, "UNIMPLEMENTED", "no such method");
          return { results: [] };
        },
        recordSighting: async () => {
          calls.push("RecordSighting");
          return { recorded: true, sequence: 1n };
        },
      },
    };
    const send = linkSightingSender({ linkFor: () => link as never }, 1_000, () => now);
    const batch = [0, 1].map((i) => ({ country: "GB", requester: police, request: { imei: `35693803000${i}` } }));
    await send(batch);
    await send(batch);
    assert.deepEqual(calls, ["RecordSightings", "RecordSighting", "RecordSighting", "RecordSighting", "RecordSighting"]);
    batched = true; // the registry was upgraded
    now += 10 * 60_000;
    calls.length = 0;
    await send(batch);
    assert.deepEqual(calls, ["RecordSightings"]);
  });
});

describe("screening quota pacing", () => {
  it("waits out the devices/s quota instead of failing, and splits a chunk larger than the burst", async () => {
    // 1,000 devices/s with a 0.1 s burst: at most 100 at once.
    const limiter = new QuotaLimiter({ default: { callsPerSecond: 10, devicesPerSecond: 1_000, burstSeconds: 0.1 } });
    const take = devicePacer(limiter, "customs-gb", new AbortController().signal);
    await take(100);
    const before = Date.now();
    await take(250); // above the burst: taken in portions, each waiting for its tokens
    assert.ok(Date.now() - before >= 240, `250 devices at 1,000/s cannot pass in ${Date.now() - before} ms`);
  });

  it("stops waiting when the call is cancelled", async () => {
    const limiter = new QuotaLimiter({ default: { callsPerSecond: 1, devicesPerSecond: 1, burstSeconds: 1 } });
    const abort = new AbortController();
    const take = devicePacer(limiter, "customs-gb", abort.signal);
    await take(1);
    const waiting = take(1);
    abort.abort();
    await assert.rejects(waiting, { name: "AbortError" });
  });
});
