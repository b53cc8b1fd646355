import assert from "node:assert/strict";
import fc from "fast-check";
import { requireDevice, type DeviceKey } from "../../device/index.js";
import { CleanAnswers, selectNth } from "../../gateway/cache/clean-answers.js";
import { FindingCache, KeyColumn, type CacheHits, type CleanAnswersFrom } from "../../gateway/cache/finding-cache.js";
import { HeldDevices } from "../../gateway/cache/held-devices.js";
import { create } from "@bufbuild/protobuf";
import { DeviceStatus, FindingSchema } from "../../gen/imeifed/v1/device_pb.js";

const KEY = requireDevice("490154203237518").key;
const clean = { status: DeviceStatus.PERMITTED, finding: undefined, cacheMaxAgeMs: undefined };
const prohibited = { status: DeviceStatus.PROHIBITED, finding: create(FindingSchema, { country: "GB", status: DeviceStatus.PROHIBITED }), cacheMaxAgeMs: undefined };
const now = 1_800_000_000_000;
const key = (i: number) => 35693803000000 + i;
/** One registry's clean answers about a column's devices, every one of them answered at `at`. */
const cleanFrom = (country: string, ticket: number, devices: number, at: number): CleanAnswersFrom => ({ country, ticket, answeredAt: new Float64Array(devices).fill(at), maxAgeMs: new Float64Array(devices).fill(Number.NaN) });
/** The positions `lookUpMany` reported as hits, with their findings. */
const hitsOf = (cache: FindingCache, column: KeyColumn, country: string, requesterId: string) => {
  const found = new Map<number, unknown>();
  const hits: CacheHits = { hit: (i, _age, finding) => found.set(i, finding) };
  const misses = cache.lookUpMany(column, country, requesterId, now, hits);
  return { found, misses };
};

describe("gateway clean-answer table", () => {
  it("answers per device and registry, until the TTL or the registry's cache_max_age", () => {
    const table = new CleanAnswers({ maxEntries: 100, ttlMs: 10_000 });
    table.put(key(1), "GB", now, undefined);
    table.put(key(2), "ES", now, 2_000);
    assert.equal(table.answeredAt(key(1), "GB", now + 9_999), now);
    assert.equal(table.answeredAt(key(1), "GB", now + 10_000), 0, "expired at the TTL");
    assert.equal(table.answeredAt(key(1), "ES", now), 0, "another registry's answer is its own");
    assert.equal(table.answeredAt(key(2), "ES", now + 1_999), now);
    assert.equal(table.answeredAt(key(2), "ES", now + 2_000), 0, "the registry's cache_max_age is shorter");
    table.put(key(3), "JP", now, 0);
    assert.equal(table.answeredAt(key(3), "JP", now), 0, "cache_max_age 0: not kept");
  });

  it("finds every device through growth, serial runs and scattered keys alike, at any capacity", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1_000, max: 30_000 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 2 ** 46 }), fc.integer({ min: 1, max: 40 })), { minLength: 1, maxLength: 60 }),
        (maxEntries, runs) => {
          // Runs of consecutive keys (some crossing a 16-key run's edge), at scattered starts.
          const keys = [...new Set(runs.flatMap(([start, length]) => Array.from({ length }, (_, j) => start + j)))];
          const table = new CleanAnswers({ maxEntries, ttlMs: 10_000 });
          keys.forEach((k, i) => table.put(k, "GB", now + i, undefined));
          assert.equal(table.size, keys.length);
          keys.forEach((k, i) => assert.equal(table.answeredAt(k, "GB", now + keys.length), now + i, `key ${k}`));
          assert.equal(table.slotOf(2 ** 46 + 1_000), -1, "a key never stored (above every generated one)");
          // Slots are distinct: no two keys share one.
          assert.equal(new Set(keys.map((k) => table.slotOf(k))).size, keys.length);
        },
      ),
      { numRuns: 60 },
    );
  });

  it("stores at the place a probe found, though other keys (or the same) were stored there since, over generated keys", () => {
    // A probe finds a batch's places; other chunks store devices before its answers come back.
    const keys = fc.array(fc.integer({ min: 0, max: 400 }), { maxLength: 80 });
    fc.assert(
      fc.property(fc.integer({ min: 20, max: 300 }), keys, keys, keys, (maxEntries, earlier, batchWithRepeats, meanwhile) => {
        const batch = [...new Set(batchWithRepeats)];
        const columns = Int32Array.of(0);
        const times = new Float64Array(1);
        const withPlaces = new CleanAnswers({ maxEntries, ttlMs: 60_000 });
        const reference = new CleanAnswers({ maxEntries, ttlMs: 60_000 });
        withPlaces.columnFor("GB", undefined);
        const store = (k: number, at: number, place?: number) => {
          times[0] = at;
          withPlaces.putRow(key(k), columns, times, 1, place);
          reference.put(key(k), "GB", at, undefined);
        };
        earlier.forEach((k, i) => store(k, now + i));
        const places = batch.map((k) => withPlaces.placeOf(key(k)));
        const version = withPlaces.version;
        meanwhile.forEach((k, i) => store(k, now + 1_000 + i));
        batch.forEach((k, i) => store(k, now + 2_000 + i, withPlaces.version === version ? places[i] : undefined));
        assert.equal(withPlaces.size, reference.size);
        const held = [...new Set([...earlier, ...batch, ...meanwhile])];
        for (const k of held) assert.equal(withPlaces.answeredAt(key(k), "GB", now + 3_000), reference.answeredAt(key(k), "GB", now + 3_000), `key ${k}`);
        const slots = held.map((k) => withPlaces.slotOf(key(k))).filter((slot) => slot >= 0);
        assert.equal(new Set(slots).size, slots.length, "no two keys share a slot");
      }),
      { numRuns: 300 },
    );
  });

  it("stores a device's answers from several registries in one row as a put each would, over generated rows", () => {
    const countries = ["GB", "ES", "JP"];
    const row = fc.record({
      device: fc.integer({ min: 0, max: 40 }),
      // Per registry: no answer, or one up to a minute after `now`, bounded by a cache_max_age (or none).
      answers: fc.array(fc.option(fc.record({ after: fc.integer({ min: 0, max: 60_000 }), maxAge: fc.constantFrom(undefined, 0, 5_000, 30_000, 90_000) }), { nil: undefined }), {
        minLength: 3,
        maxLength: 3,
      }),
    });
    fc.assert(
      fc.property(fc.array(row, { maxLength: 120 }), (rows) => {
        // A small bound, so rows also make the table reclaim room on the way.
        const each = new CleanAnswers({ maxEntries: 30, ttlMs: 60_000 });
        const together = new CleanAnswers({ maxEntries: 30, ttlMs: 60_000 });
        for (const r of rows) {
          r.answers.forEach((a, c) => a && each.put(key(r.device), countries[c]!, now + a.after, a.maxAge));
          const columns = Int32Array.from(r.answers, (a, c) => (a ? together.columnFor(countries[c]!, a.maxAge) : -1));
          const times = Float64Array.from(r.answers, (a) => (a ? now + a.after : 0));
          together.putRow(key(r.device), columns, times, countries.length);
        }
        for (let d = 0; d <= 40; d++) {
          for (const country of countries) {
            for (const at of [now, now + 30_000, now + 70_000]) assert.equal(together.answeredAt(key(d), country, at), each.answeredAt(key(d), country, at), `device ${d}, ${country}, at +${at - now}`);
          }
        }
        assert.equal(together.size, each.size);
      }),
      { numRuns: 200 },
    );
  });

  it("stays within its bound: full, it reclaims expired devices, then keeps the newer half", () => {
    const max = 5_000;
    const table = new CleanAnswers({ maxEntries: max, ttlMs: 3_600_000 });
    let largest = 0;
    for (let i = 0; i < 4 * max; i++) {
      table.put(key(i), "GB", now + i, undefined);
      table.put(key(i), "ES", now + i, undefined);
      largest = Math.max(largest, table.size);
    }
    assert.ok(largest <= max, `held ${largest} devices, bound ${max}`);
    // A Float64 key and two Uint32 answer times a slot, at most 4/5 full.
    assert.ok(table.bytes <= Math.ceil(max / 0.8 + 1) * (8 + 2 * 4), `${table.bytes} bytes`);
    const last = 4 * max - 1;
    assert.equal(table.answeredAt(key(last), "GB", now + last), now + last, "the newest answers are kept");
    assert.equal(table.answeredAt(key(0), "GB", now + last), 0, "the oldest went");
    let held = 0;
    for (let i = 0; i < 4 * max; i++) if (table.answeredAt(key(i), "ES", now + last) > 0) held++;
    assert.equal(held, table.size, "every device still held answers");
  });

  it("making room keeps exactly the devices newer than the cutoff, each with all its answers, over generated tables", () => {
    const countries = ["GB", "ES", "BR"];
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 300 }),
        fc.infiniteStream(fc.tuple(fc.integer({ min: 0, max: 5_000 }), fc.subarray(countries, { minLength: 1 }))),
        (max, rows) => {
          const table = new CleanAnswers({ maxEntries: max, ttlMs: 3_600_000 });
          // `max` devices fill the table, each answered by some registries at times of its own (ties included).
          const devices = [...rows.take(max)].map(([offset, from], i) => ({ key: key(i), at: now + offset, from }));
          for (const d of devices) for (const c of d.from) table.put(d.key, c, d.at, undefined);
          assert.equal(table.size, max);
          // One more device: the table makes room, keeping those newer than the floor(max/2)-th newest.
          const newestFirst = devices.map((d) => d.at).sort((a, b) => b - a);
          const cutoff = newestFirst[Math.floor(max / 2) - 1] ?? Number.POSITIVE_INFINITY;
          const late = now + 10_000;
          table.put(key(max), "GB", late, undefined);
          for (const d of devices) {
            for (const c of countries) {
              const expected = d.at > cutoff && d.from.includes(c) ? d.at : 0;
              assert.equal(table.answeredAt(d.key, c, late), expected, `device ${d.key} from ${c}`);
            }
          }
          assert.equal(table.answeredAt(key(max), "GB", late), late);
          assert.equal(table.size, devices.filter((d) => d.at > cutoff).length + 1);
        },
      ),
      { numRuns: 100 },
    );
  });

  it("selects the value a sort would put at an index, over generated values with many ties", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 20 }), { minLength: 1, maxLength: 300 }), fc.nat(), (values, at) => {
        const n = at % values.length;
        const sorted = [...values].sort((a, b) => a - b);
        assert.equal(selectNth(Float64Array.from(values), n), sorted[n]);
      }),
      { numRuns: 500 },
    );
  });

  it("expired devices are reclaimed first when full", () => {
    const table = new CleanAnswers({ maxEntries: 10, ttlMs: 1_000 });
    for (let i = 0; i < 10; i++) table.put(key(i), "GB", now, undefined);
    table.put(key(100), "GB", now + 5_000, undefined);
    assert.equal(table.size, 1, "the ten expired devices made room");
    assert.equal(table.answeredAt(key(100), "GB", now + 5_000), now + 5_000);
  });

  it("drops a device's answer from one registry, and all of a registry's answers", () => {
    const table = new CleanAnswers({ maxEntries: 100, ttlMs: 10_000 });
    for (let i = 0; i < 20; i++) {
      table.put(key(i), "GB", now, undefined);
      table.put(key(i), "ES", now, undefined);
    }
    table.drop(key(3), "GB");
    assert.equal(table.answeredAt(key(3), "GB", now), 0);
    assert.equal(table.answeredAt(key(3), "ES", now), now);
    table.dropCountry("ES");
    for (let i = 0; i < 20; i++) assert.equal(table.answeredAt(key(i), "ES", now), 0);
    assert.equal(table.answeredAt(key(4), "GB", now), now);
  });

  it("a registry raising its cache_max_age does not lengthen answers stored under the shorter one", () => {
    const table = new CleanAnswers({ maxEntries: 100, ttlMs: 60_000 });
    table.put(key(1), "GB", now, 1_000);
    table.put(key(2), "GB", now + 10, 30_000);
    assert.equal(table.answeredAt(key(1), "GB", now + 5_000), 0);
    assert.equal(table.answeredAt(key(2), "GB", now + 5_000), now + 10);
  });

  it("the bulk read gives ages, -1 where nothing may be served", () => {
    const table = new CleanAnswers({ maxEntries: 100, ttlMs: 10_000 });
    table.put(key(1), "GB", now, undefined);
    table.put(key(2), "GB", now - 20_000, undefined);
    const slots = Int32Array.from([table.slotOf(key(1)), table.slotOf(key(2)), table.slotOf(key(3))]);
    const ages = new Float64Array(3);
    table.agesIn(slots, table.columnOf("GB"), now + 250, ages);
    assert.deepEqual([...ages], [250, -1, -1]);
  });
});

describe("gateway finding cache with the clean-answer table", () => {
  const options = { maxEntries: 100, listedTtlMs: 60_000, unlistedTtlMs: 10_000 };

  it("serves one requester's clean answer to another the registry has answered, not to one it has not", () => {
    const cache = new FindingCache(options);
    cache.put(KEY, "GB", "police-es", clean, cache.ticket(), now);
    assert.equal(cache.size, 0, "nothing in the LRU");
    assert.equal(cache.cleanSize, 1);
    assert.equal(cache.get(KEY, "GB", "police-es", now)?.status, DeviceStatus.PERMITTED);
    assert.equal(cache.get(KEY, "GB", "customs-gb", now), undefined, "GB never answered customs-gb: it might refuse them");
    cache.answered("GB", "customs-gb", now, undefined);
    assert.equal(cache.get(KEY, "GB", "customs-gb", now)?.status, DeviceStatus.PERMITTED);
    cache.refused("GB", "customs-gb");
    assert.equal(cache.get(KEY, "GB", "customs-gb", now), undefined, "a refusal ends it");
  });

  it("a listed answer replaces the clean one; a newer clean answer wins over an older listed one", () => {
    const cache = new FindingCache(options);
    cache.put(KEY, "GB", "police-es", clean, cache.ticket(), now);
    cache.put(KEY, "GB", "police-es", prohibited, cache.ticket(), now + 1);
    assert.equal(cache.get(KEY, "GB", "police-es", now + 2)?.status, DeviceStatus.PROHIBITED);
    cache.put(KEY, "GB", "police-es", clean, cache.ticket(), now + 3);
    assert.equal(cache.get(KEY, "GB", "police-es", now + 4)?.status, DeviceStatus.PERMITTED);
  });

  it("a row of clean answers skips the registry whose device changed after it was asked, and stores the others", () => {
    const cache = new FindingCache(options);
    const before = cache.ticket();
    cache.dropDevice(KEY, "GB", DeviceStatus.PROHIBITED); // reported in GB while the registries were being asked
    // Both registries' answers about the device, stored together as the bulk path stores them.
    cache.storeMany(new KeyColumn([KEY]), "police-es", [cleanFrom("GB", before, 1, now), cleanFrom("ES", before, 1, now)]);
    cache.answered("ES", "police-es", now, undefined);
    cache.answered("GB", "police-es", now, undefined);
    assert.equal(cache.get(KEY, "GB", "police-es", now), undefined, "GB's answer may predate the report");
    assert.equal(cache.get(KEY, "ES", "police-es", now)?.status, DeviceStatus.PERMITTED);
  });

  it("a change drops the device's clean answer; a clean answer asked before a report is refused", () => {
    const cache = new FindingCache(options);
    cache.put(KEY, "GB", "police-es", clean, cache.ticket(), now);
    cache.dropDevice(KEY, "GB", DeviceStatus.PROHIBITED);
    assert.equal(cache.get(KEY, "GB", "police-es", now), undefined);
    const ticket = cache.ticket();
    cache.dropDevice(KEY, "GB", DeviceStatus.PROHIBITED);
    cache.put(KEY, "GB", "police-es", clean, ticket, now);
    assert.equal(cache.get(KEY, "GB", "police-es", now), undefined);
  });

  it("a registry reset drops its clean answers and its requesters' admission, not other registries'", () => {
    const cache = new FindingCache(options);
    const other = "35693803000099" as DeviceKey;
    cache.put(KEY, "GB", "police-es", clean, cache.ticket(), now);
    cache.put(other, "ES", "police-es", clean, cache.ticket(), now);
    cache.dropRegistry("GB");
    assert.equal(cache.get(KEY, "GB", "police-es", now), undefined);
    // A clean answer from GB stored after the reset is not served to police-es until GB answers them again.
    cache.storeMany(new KeyColumn([KEY]), "police-es", [cleanFrom("GB", cache.ticket(), 1, now)]);
    assert.equal(cache.cleanSize, 2);
    assert.equal(cache.get(KEY, "GB", "police-es", now), undefined, "GB must answer police-es again first");
    assert.ok(cache.get(other, "ES", "police-es", now));
  });

  it("with the table off, clean answers go to the LRU as before", () => {
    const cache = new FindingCache({ ...options, cleanMaxEntries: 0 });
    cache.put(KEY, "GB", "police-es", clean, cache.ticket(), now);
    assert.equal(cache.cleanSize, 0);
    assert.equal(cache.size, 1);
    assert.equal(cache.get(KEY, "GB", "customs-gb", now), undefined);
  });

  it("the bulk probe finds every device the LRU holds, also after its held-device filter starts over", () => {
    const cache = new FindingCache({ ...options, maxEntries: 1_000 });
    const asKey = (i: number) => String(key(i)) as DeviceKey;
    // The probe's held-device filter starts over from what the LRU holds every ~1,000 stores here
    // (its smallest size, 2^15 bits, fits the 1,000 held devices), so the held devices span rebuilds.
    const stored = 2 ** 18 + 500;
    for (let i = 0; i < stored; i++) cache.put(asKey(i), "GB", "police-es", prohibited, cache.ticket(), now);
    const keys = Array.from({ length: 3_000 }, (_, j) => asKey(stored - 2_000 + j)); // 1,000 evicted, 1,000 held, 1,000 never stored
    const { found } = hitsOf(cache, new KeyColumn(keys), "GB", "police-es");
    keys.forEach((k, j) => assert.equal(found.get(j), cache.get(k, "GB", "police-es", now)?.finding, `device ${j} of the look-up`));
    assert.equal(found.size, 1_000);
    // Numbers given by the caller are used as the keys' numbers.
    assert.deepEqual([...new KeyColumn(keys, Float64Array.from(keys, Number)).numbers], keys.map(Number));
    cache.clear();
    cache.put(asKey(1), "GB", "police-es", prohibited, cache.ticket(), now);
    // Twenty devices: a column that small is still probed (smaller ones are looked up device by device).
    assert.equal(hitsOf(cache, new KeyColumn(Array.from({ length: 20 }, (_, j) => asKey(j + 1))), "GB", "police-es").found.size, 1, "after clear, a new entry is found");
  });

  it("the bulk probe finds every held device while its filter grows with the LRU, and few others", () => {
    const cache = new FindingCache({ ...options, maxEntries: 100_000 });
    const asKey = (i: number) => String(key(i)) as DeviceKey;
    // From 2^15 bits (2,048 devices at 16 bits each) the filter grows past 50,000 held devices.
    const held = 50_000;
    for (let i = 0; i < held; i++) cache.put(asKey(2 * i), "GB", "police-es", prohibited, cache.ticket(), now);
    const keys = Array.from({ length: 2 * held }, (_, j) => asKey(j)); // even: held, odd: never stored
    const { found } = hitsOf(cache, new KeyColumn(keys), "GB", "police-es");
    keys.forEach((_, j) => assert.equal(found.has(j), j % 2 === 0, `device ${j}`));
  });

  it("a column answers alike probed (a chunk) and device by device (a Lookup's few keys)", () => {
    const cache = new FindingCache(options);
    const asKey = (i: number) => String(key(i)) as DeviceKey;
    // Listed in GB for one requester, clean for every requester GB answered, a newer clean answer over a listed one, nothing.
    for (let i = 0; i < 40; i++) {
      if (i % 4 === 0) cache.put(asKey(i), "GB", "police-es", prohibited, cache.ticket(), now - 10);
      if (i % 4 === 1) cache.put(asKey(i), "GB", "police-es", clean, cache.ticket(), now - 20);
      if (i % 8 === 0) cache.put(asKey(i), "GB", "police-es", clean, cache.ticket(), now - 5);
    }
    const keys = Array.from({ length: 40 }, (_, i) => asKey(i));
    const probed = hitsOf(cache, new KeyColumn(keys), "GB", "police-es");
    keys.forEach((k, i) => {
      const one = hitsOf(cache, new KeyColumn([k]), "GB", "police-es");
      assert.equal(probed.found.has(i), one.found.has(0), `device ${i} answered`);
      assert.equal(probed.found.get(i), one.found.get(0), `device ${i}'s finding`);
    });
    assert.deepEqual([...probed.misses], keys.flatMap((_, i) => (i % 4 >= 2 ? [i] : [])));
    assert.equal([...probed.found.values()].filter(Boolean).length, 5, "the listed devices whose clean answer is not newer");
  });

  it("the held-device filter lets through few devices it never saw while it grows", () => {
    // From 2^15 bits (2,048 devices at 16 bits each) the filter grows past 50,000 held devices.
    const held = 50_000;
    const marked: string[] = [];
    const filter = new HeldDevices();
    for (let i = 0; i < held; i++) {
      const k = String(key(2 * i));
      filter.mark(k, () => marked);
      marked.push(k);
    }
    for (let i = 0; i < held; i++) assert.ok(filter.mayHold(key(2 * i)), `held device ${i}`);
    // Wasted looks: a sparse filter lets through few of the devices it never saw.
    let wasted = 0;
    for (let j = 1; j < 2 * held; j += 2) if (filter.mayHold(key(j))) wasted++;
    assert.ok(wasted < held / 8, `${wasted} of ${held} never-stored devices passed the filter`);
  });
});
