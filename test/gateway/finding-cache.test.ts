import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { requireDevice, type DeviceKey } from "../../device/index.js";
import { DeviceStatus, FindingSchema } from "../../gen/imeifed/v1/device_pb.js";
import { FindingCache } from "../../gateway/cache/finding-cache.js";

const KEY = requireDevice("490154203237518").key;
const OTHER = requireDevice("356938035643809").key;
const prohibited = { status: DeviceStatus.PROHIBITED, finding: create(FindingSchema, { country: "GB", status: DeviceStatus.PROHIBITED }), cacheMaxAgeMs: undefined };
const clean = { status: DeviceStatus.PERMITTED, finding: undefined, cacheMaxAgeMs: undefined };

describe("gateway finding cache", () => {
  const options = { maxEntries: 100, listedTtlMs: 60_000, unlistedTtlMs: 1_000 };
  const now = 5_000_000;

  it("keeps listed answers long and unlisted answers briefly", () => {
    const cache = new FindingCache(options);
    cache.put(KEY, "GB", "police-es", prohibited, cache.ticket(), now);
    cache.put(OTHER, "GB", "police-es", clean, cache.ticket(), now);
    assert.ok(cache.get(KEY, "GB", "police-es", now + 59_000));
    assert.equal(cache.get(KEY, "GB", "police-es", now + 60_001), undefined);
    assert.ok(cache.get(OTHER, "GB", "police-es", now + 999));
    assert.equal(cache.get(OTHER, "GB", "police-es", now + 1_001), undefined);
  });

  it("is bounded by the registry's cache_max_age, and keeps nothing when it is zero", () => {
    const cache = new FindingCache(options);
    cache.put(KEY, "GB", "police-es", { ...prohibited, cacheMaxAgeMs: 500 }, cache.ticket(), now);
    assert.equal(cache.get(KEY, "GB", "police-es", now + 501), undefined);
    cache.put(OTHER, "GB", "police-es", { ...prohibited, cacheMaxAgeMs: 0 }, cache.ticket(), now);
    assert.equal(cache.get(OTHER, "GB", "police-es", now), undefined);
    assert.equal(cache.size, 1);
  });

  it("never serves one requester's view to another (sharing policy is per requester)", () => {
    const cache = new FindingCache(options);
    cache.put(KEY, "GB", "police-es", prohibited, cache.ticket(), now);
    assert.equal(cache.get(KEY, "GB", "customs-gb", now), undefined);
    assert.equal(cache.get(KEY, "ES", "police-es", now), undefined);
  });

  it("a change drops that device's answers from that registry only", () => {
    const cache = new FindingCache(options);
    cache.put(KEY, "GB", "police-es", prohibited, cache.ticket(), now);
    cache.put(KEY, "GB", "customs-gb", prohibited, cache.ticket(), now);
    cache.put(KEY, "ES", "police-es", clean, cache.ticket(), now);
    cache.dropDevice(KEY, "GB");
    assert.equal(cache.get(KEY, "GB", "police-es", now), undefined);
    assert.equal(cache.get(KEY, "GB", "customs-gb", now), undefined);
    assert.ok(cache.get(KEY, "ES", "police-es", now));
  });

  it("refuses an answer asked before a change to that device arrived", () => {
    const cache = new FindingCache(options);
    const ticket = cache.ticket();
    cache.dropDevice(KEY, "GB");
    cache.put(KEY, "GB", "police-es", clean, ticket, now);
    assert.equal(cache.get(KEY, "GB", "police-es", now), undefined);
    cache.put(OTHER, "GB", "police-es", clean, ticket, now);
    assert.ok(cache.get(OTHER, "GB", "police-es", now), "other devices are unaffected");
  });

  it("keeps an answer asked during a change when it agrees with the status after the change", () => {
    const cache = new FindingCache(options);
    const ticket = cache.ticket();
    cache.dropDevice(KEY, "GB", DeviceStatus.PROHIBITED);
    cache.put(KEY, "GB", "police-es", clean, ticket, now);
    assert.equal(cache.get(KEY, "GB", "police-es", now), undefined, "a clean answer from before the report is refused");
    cache.put(KEY, "GB", "police-es", prohibited, ticket, now);
    assert.ok(cache.get(KEY, "GB", "police-es", now), "the PROHIBITED answer agrees with the report");
  });

  it("a new epoch voids everything held from that registry, and answers asked before it", () => {
    const cache = new FindingCache(options);
    const ticket = cache.ticket();
    cache.put(KEY, "GB", "police-es", prohibited, ticket, now);
    cache.put(KEY, "ES", "police-es", prohibited, ticket, now);
    cache.dropRegistry("GB");
    assert.equal(cache.get(KEY, "GB", "police-es", now), undefined);
    assert.ok(cache.get(KEY, "ES", "police-es", now));
    cache.put(OTHER, "GB", "police-es", prohibited, ticket, now);
    assert.equal(cache.get(OTHER, "GB", "police-es", now), undefined);
    cache.put(OTHER, "GB", "police-es", prohibited, cache.ticket(), now);
    assert.ok(cache.get(OTHER, "GB", "police-es", now));
  });

  it("is bounded by its entry count", () => {
    const cache = new FindingCache({ ...options, maxEntries: 10 });
    for (let i = 0; i < 50; i++) cache.put(String(35693803000000 + i) as DeviceKey, "GB", "police-es", prohibited, cache.ticket(), now);
    assert.equal(cache.size, 10);
  });
});
