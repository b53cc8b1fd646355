import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { DeviceStatus, FindingSchema } from "../../gen/imeifed/v1/device_pb.js";
import {
  ManifestItemSchema,
  RegistryFindingSchema,
  ScreeningDecision,
  ScreeningOutcome,
  UnansweredPolicy,
  UnansweredReason,
  UnansweredSchema,
  type ManifestItem,
  type RegistryFinding,
  type Unanswered,
} from "../../gen/imeifed/v1/federation_pb.js";
import { luhnCheckDigit, TacDatabase, type DeviceKey } from "../../device/index.js";
import { screenManifest, type CheckMany, type ChunkAnswers, type ScreenResponseInit } from "../../gateway/screening/manifest-screening.js";

const imei = (body: string) => body + String(luhnCheckDigit(body));
const item = (deviceId: string, declaredMake = "", line = "") => create(ManifestItemSchema, { deviceId, declaredMake, lineReference: line });
const requester = { id: "customs-gb", kind: "customs" as const, country: "GB" };
const tac = TacDatabase.fromEntries([["35693803", { make: "Apple", model: "iPhone 12" }]]);

interface ScreeningAnswer {
  findings: RegistryFinding[];
  unanswered: Unanswered[];
}
const byPosition = (answers: ScreeningAnswer[]): ChunkAnswers => ({ findingsAt: (i) => answers[i]!.findings, unansweredAt: (i) => answers[i]!.unanswered });

/** Registries answered in-process: `listed` maps a device key to its status per country. */
function registries(listed: Record<string, [string, DeviceStatus][]>, down: string[] = []) {
  const calls: number[] = [];
  const checkMany: CheckMany = async (keys, _opts, keyNumbers) => {
    calls.push(keys.length);
    assert.deepEqual([...keyNumbers], keys.map(Number), "the keys as numbers, in the same order");
    return byPosition(keys.map(
      (key): ScreeningAnswer => ({
        findings: (listed[key] ?? []).map(([country, status]) => create(RegistryFindingSchema, { finding: create(FindingSchema, { country, status, deviceKey: key }) })),
        unanswered: down.map((country) => create(UnansweredSchema, { country, reason: UnansweredReason.UNAVAILABLE })),
      }),
    ));
  };
  return { checkMany, calls };
}

async function* batchesOf(...batches: ManifestItem[][]) {
  for (const b of batches) yield b;
}

async function collect(gen: AsyncIterable<ScreenResponseInit>) {
  const out: ScreenResponseInit[] = [];
  for await (const r of gen) out.push(r);
  const findings = out.flatMap((r) => (r.message?.case === "finding" ? [r.message.value] : []));
  const summary = out.at(-1)?.message?.case === "summary" ? (out.at(-1)!.message!.value as { counts: { outcome: ScreeningOutcome; count: bigint }[]; decision: ScreeningDecision; itemsScreened: bigint }) : undefined;
  assert.ok(summary, "the stream ends with the summary");
  const count = (o: ScreeningOutcome) => Number(summary.counts.find((c) => c.outcome === o)?.count ?? 0n);
  return { out, findings, summary, count };
}

const base = (checkMany: CheckMany) => ({
  checkMany,
  tac,
  requester,
  declarationReference: "DEC-1",
  onUnanswered: UnansweredPolicy.HOLD,
  chunkDeadline: () => new Date(Date.now() + 1_000),
});

describe("manifest screening (pipeline, in-process registries)", () => {
  it("reports each finding kind once, in manifest order, and counts the clear ones", async () => {
    const stolen = "35693803000011";
    const tracked = "35693803000029";
    const { checkMany } = registries({ [stolen]: [["GB", DeviceStatus.PROHIBITED], ["ES", DeviceStatus.TRACKED]], [tracked]: [["ES", DeviceStatus.TRACKED]] });
    const items = [
      item(imei("35693803000003"), "Apple", "L1"), // clear
      item(imei(stolen), "apple", "L2"), // prohibited (prohibited wins over tracked)
      item("12345", "", "L3"), // malformed: length
      item(imei(tracked), "", "L4"), // tracked
      item("356938030000030", "", "L5"), // malformed: check digit
      item(imei("35693803000037"), "Samsung", "L6"), // model mismatch
      item("35693803000003", "", "L7"), // duplicate of L1 (14-digit form)
      item("00000000000000", "", "L8"), // malformed: all zeros
    ];
    const { findings, summary, count } = await collect(screenManifest(batchesOf(items), base(checkMany)));
    assert.deepEqual(
      findings.map((f) => [f.itemIndex, ScreeningOutcome[f.outcome!]]),
      [[1n, "PROHIBITED"], [2n, "MALFORMED"], [3n, "TRACKED"], [4n, "MALFORMED"], [5n, "MODEL_MISMATCH"], [6n, "DUPLICATE"], [7n, "MALFORMED"]],
    );
    const byIndex = new Map(findings.map((f) => [f.itemIndex, f]));
    assert.equal(byIndex.get(1n)!.findings!.length, 2);
    assert.match(byIndex.get(2n)!.detail!, /15 \(IMEI\)/);
    assert.match(byIndex.get(4n)!.detail!, /Luhn/);
    assert.match(byIndex.get(7n)!.detail!, /all zeros/);
    assert.match(byIndex.get(5n)!.detail!, /TAC 35693803 is Apple iPhone 12, declared "Samsung"/);
    assert.match(byIndex.get(6n)!.detail!, /item 0/);
    assert.equal(byIndex.get(6n)!.item!.lineReference, "L7");
    assert.equal(count(ScreeningOutcome.CLEAR), 1);
    assert.equal(summary.itemsScreened, 8n);
    assert.equal(summary.decision, ScreeningDecision.HOLD);
  });

  it("finds duplicates across batch and chunk boundaries", async () => {
    const { checkMany, calls } = registries({});
    const a = imei("35693803000102");
    const b = imei("35693803000201");
    const { findings } = await collect(
      screenManifest(batchesOf([item(a), item(imei("35693803000300"))], [item(b)], [item(a), item(b.slice(0, 14) + "07")]), { ...base(checkMany), chunkSize: 1 }),
    );
    assert.deepEqual(findings.map((f) => [f.itemIndex, ScreeningOutcome[f.outcome!], f.detail]), [
      [3n, "DUPLICATE", "same device as item 0 earlier in the manifest"],
      [4n, "DUPLICATE", "same device as item 2 earlier in the manifest"], // the IMEISV form of the same device
    ]);
    assert.ok(calls.every((n) => n <= 1));
  });

  it("counts items whose registries were down as UNANSWERED and holds or passes by policy", async () => {
    const items = [item(imei("35693803000409")), item(imei("35693803000508"))];
    const down = registries({}, ["ES"]);
    const held = await collect(screenManifest(batchesOf(items), base(down.checkMany)));
    assert.equal(held.findings.length, 0, "unanswered items are counted, not streamed");
    assert.equal(held.count(ScreeningOutcome.UNANSWERED), 2);
    assert.equal(held.summary.decision, ScreeningDecision.HOLD);
    const passed = await collect(screenManifest(batchesOf(items), { ...base(down.checkMany), onUnanswered: UnansweredPolicy.PASS }));
    assert.equal(passed.summary.decision, ScreeningDecision.RELEASE);
  });

  it("tells the screened-items hook each chunk's outcomes, adding up to the summary's counts", async () => {
    const { checkMany } = registries({ "35693803000011": [["GB", DeviceStatus.PROHIBITED]] });
    const told = new Map<ScreeningOutcome, number>();
    const items = [item(imei("35693803000011")), item("12345"), ...Array.from({ length: 23 }, (_, i) => item(imei(`356938031${String(i).padStart(5, "0")}`)))];
    const { summary } = await collect(
      screenManifest(batchesOf(items.slice(0, 10), items.slice(10)), { ...base(checkMany), chunkSize: 10, onScreened: (o, n) => told.set(o, (told.get(o) ?? 0) + n) }),
    );
    assert.deepEqual(
      [...told].sort((a, b) => a[0] - b[0]),
      summary.counts.filter((c) => c.count > 0n).map((c) => [c.outcome, Number(c.count)]).sort((a, b) => a[0]! - b[0]!),
    );
    assert.equal(told.get(ScreeningOutcome.CLEAR), 23);
  });

  it("sends progress every N items", async () => {
    const { checkMany } = registries({});
    const items = Array.from({ length: 50 }, (_, i) => item(imei(`356938031${String(i).padStart(5, "0")}`)));
    const { out } = await collect(screenManifest(batchesOf(items), { ...base(checkMany), chunkSize: 10, progressEveryItems: 20, progressEveryMs: 60_000 }));
    const progress = out.flatMap((r) => (r.message?.case === "progress" ? [Number(r.message.value.itemsScreened)] : []));
    assert.deepEqual(progress, [20, 40]);
  });

  it("reads no further than the consumer takes (at most the chunks in flight ahead)", async () => {
    const { checkMany } = registries({ "35693803000011": [["GB", DeviceStatus.PROHIBITED]] });
    let batchesRead = 0;
    async function* endless() {
      for (;;) {
        batchesRead++;
        yield [item(imei("35693803000011"))].concat(Array.from({ length: 9 }, (_, i) => item(imei(`3569380${String(batchesRead).padStart(4, "0")}${i}00`))));
      }
    }
    const stream = screenManifest(endless(), { ...base(checkMany), chunkSize: 10, maxChunksInFlight: 3 });
    // Take two responses, then stop reading for a while.
    await stream.next();
    await stream.next();
    const readThen = batchesRead;
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(batchesRead, readThen, "nothing more is read while the consumer waits");
    assert.ok(readThen <= 3 + 2, `read ${readThen} batches`);
    await stream.return(undefined);
  });

  it("gathers small batches into chunks of chunkSize while a chunk is waiting on the registries", async () => {
    const { checkMany } = registries({});
    let release!: () => void;
    const firstAnswered = new Promise<void>((r) => (release = r));
    const calls: number[] = [];
    // The first chunk's answer waits until the caller has sent everything, so the rest gathers behind it.
    const slowFirst: CheckMany = async (keys, opts, keyNumbers) => {
      calls.push(keys.length);
      if (calls.length === 1) await firstAnswered;
      return checkMany(keys, opts, keyNumbers);
    };
    const batches = Array.from({ length: 12 }, (_, b) => Array.from({ length: 3 }, (_, i) => item(imei(`356938031${String(b * 3 + i).padStart(5, "0")}`))));
    async function* sending() {
      for (const b of batches) yield b;
      release();
    }
    const { count, summary } = await collect(screenManifest(sending(), { ...base(slowFirst), chunkSize: 10, maxChunksInFlight: 8 }));
    // The first batch goes alone (nothing was waiting on the registries), the rest in chunks of 10, the tail when the manifest ends.
    assert.deepEqual(calls, [3, 10, 10, 10, 3]);
    assert.equal(count(ScreeningOutcome.CLEAR), 36);
    assert.equal(summary.itemsScreened, 36n);
  });

  it("sends a partial chunk when nothing waits on the registries (a caller may wait for answers before sending more)", async () => {
    const { checkMany, calls } = registries({ "35693803000011": [["GB", DeviceStatus.PROHIBITED]] });
    let answered!: () => void;
    const findingSeen = new Promise<void>((r) => (answered = r));
    async function* interactive() {
      yield [item(imei("35693803000011")), item(imei("35693803000029"))];
      await findingSeen; // this caller sends more only after hearing about its first items
      yield [item(imei("35693803000037"))];
    }
    const stream = screenManifest(interactive(), { ...base(checkMany), chunkSize: 1_000 });
    const first = await stream.next();
    assert.equal(first.value?.message?.case, "finding");
    answered();
    const rest = await collect(stream);
    assert.equal(rest.summary.itemsScreened, 3n);
    assert.deepEqual(calls, [2, 1]);
  });

  it("asks the quota hook for every device it checks, and stops when it refuses", async () => {
    const { checkMany } = registries({});
    const taken: number[] = [];
    const items = Array.from({ length: 25 }, (_, i) => item(imei(`35693803${String(i).padStart(6, "0")}`)));
    await collect(screenManifest(batchesOf(items), { ...base(checkMany), chunkSize: 10, takeDevices: async (n) => void taken.push(n) }));
    assert.deepEqual(taken, [10, 10, 5]);
    const refusing = screenManifest(batchesOf(items), {
      ...base(checkMany),
      takeDevices: async () => {
        throw new Error("quota");
      },
    });
    await assert.rejects(collect(refusing), /quota/);
  });
});
