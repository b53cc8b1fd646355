import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { DeviceStatus, FindingSchema } from "../../gen/imeifed/v1/device_pb.js";
import { RegistryFindingSchema } from "../../gen/imeifed/v1/federation_pb.js";
import { SightingKind } from "../../gen/imeifed/v1/registry_pb.js";
import { RegistryTripwire, type PendingSighting } from "../../gateway/tripwire/registry-tripwire.js";
import { devicePacer } from "../../gateway/screening/screening-quota.js";
import { QuotaLimiter } from "../../trust/quota.js";
import type { DeviceKey } from "../../device/index.js";

const KEY = "35693803000011" as DeviceKey;
const finding = (country: string, status: DeviceStatus) => create(RegistryFindingSchema, { finding: create(FindingSchema, { country, status, deviceKey: KEY }) });
const police = { id: "police-es", kind: "police" as const, country: "ES" };

describe("tripwire (queue and drain)", () => {
  it("sends one sighting per foreign owning registry, off the caller's turn", async () => {
    const sent: PendingSighting[] = [];
    const tripwire = new RegistryTripwire({ send: async (s) => void sent.push(s), now: () => Date.parse("2025-03-01T10:00:00Z") });
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
    const tripwire = new RegistryTripwire({ send: async (s) => void sent.push(s), repeatWindowMs: 1_000, now: () => now });
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

  it("drops and counts when the queue is full, counts failures, and never throws to the caller", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let calls = 0;
    const failures: unknown[] = [];
    const tripwire = new RegistryTripwire({
      send: async () => {
        calls++;
        await gate;
        throw new Error("registry down");
      },
      maxQueued: 3,
      batchSize: 2,
      repeatWindowMs: 0,
      onFailure: (_s, e) => failures.push(e),
    });
    const hit = (i: number) => ({ key: `3569380300${String(i).padStart(4, "0")}` as DeviceKey, findings: [finding("GB", DeviceStatus.PROHIBITED)], requester: police, kind: SightingKind.LOOKUP_HIT, purpose: "p" });
    for (let i = 0; i < 3; i++) tripwire.hit(hit(i));
    await new Promise((r) => setImmediate(r));
    // The drain took a batch of 2; one waits in the queue: room for 2 more.
    for (let i = 3; i < 8; i++) assert.doesNotThrow(() => tripwire.hit(hit(i)));
    assert.equal(tripwire.stats.dropped, 3);
    release();
    await tripwire.flush();
    assert.equal(calls, 5);
    assert.equal(tripwire.stats.failed, 5);
    assert.equal(failures.length, 5);
    // A malformed hit is swallowed too.
    assert.doesNotThrow(() => tripwire.hit({ key: "x" as DeviceKey, findings: [finding("GB", DeviceStatus.PROHIBITED)], requester: police, kind: SightingKind.LOOKUP_HIT, purpose: "" }));
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
