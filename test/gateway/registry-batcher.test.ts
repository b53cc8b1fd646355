import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { create } from "@bufbuild/protobuf";
import type { DeviceKey } from "../../device/index.js";
import { Code, ImeifedError } from "../../errors/index.js";
import { DeviceStatus } from "../../gen/imeifed/v1/device_pb.js";
import { DeviceCheckSchema, type DeviceCheck } from "../../gen/imeifed/v1/registry_pb.js";
import { CircuitBreaker } from "../../gateway/upstream/circuit-breaker.js";
import { RegistryBatcher, type BatchGroup, type FlushEvent, type RegistryBatcherOptions } from "../../gateway/upstream/registry-batcher.js";
import { eventually } from "../support/waiting.js";

const key = (i: number) => String(35693803000000 + i) as DeviceKey;
const group: BatchGroup = { requester: { id: "police-es", kind: "police", country: "ES" }, purpose: "case-1" };
const soon = (ms = 2_000) => new Date(Date.now() + ms);
/** A registry's breaker that has opened (one failure at a threshold of one) and stays open for the test. */
const openBreaker = () => {
  const breaker = new CircuitBreaker({ failureThreshold: 1, coolDownMs: 60_000 });
  breaker.recordFailure();
  return breaker;
};

/** An upstream the test releases by hand, recording every batch it was sent. */
function manualUpstream() {
  const sent: { keys: DeviceKey[]; group: BatchGroup; deadline: Date; release: (error?: ImeifedError) => void }[] = [];
  const send: RegistryBatcherOptions["send"] = (keys, g, deadline) =>
    new Promise<DeviceCheck[]>((resolve, reject) => {
      sent.push({
        keys,
        group: g,
        deadline,
        release: (error) => (error ? reject(error) : resolve(keys.map((k) => create(DeviceCheckSchema, { deviceKey: k, status: DeviceStatus.PERMITTED })))),
      });
    });
  return { sent, send };
}

describe("gateway registry batcher", () => {
  let flushes: FlushEvent[];
  beforeEach(() => (flushes = []));
  const batcher = (send: RegistryBatcherOptions["send"], options: Partial<RegistryBatcherOptions> = {}) =>
    new RegistryBatcher({ limit: 100, maxInFlight: 1, maxWaitMs: 1_000, send, onFlush: (e) => flushes.push(e), ...options });

  it("sends a lone lookup at once: flushed as idle, not on a window", async () => {
    const up = manualUpstream();
    const b = batcher(up.send);
    const answer = b.ask([key(1)], group, soon());
    await Promise.resolve();
    await Promise.resolve();
    assert.equal(up.sent.length, 1, "sent within the same tick's microtasks");
    assert.deepEqual(flushes.map((f) => [f.reason, f.size]), [["idle", 1]]);
    up.sent[0]!.release();
    const [result] = await answer;
    assert.ok(result?.ok);
  });

  it("gathers misses that arrive while every slot is busy into one batch, sent when a slot frees", async () => {
    const up = manualUpstream();
    const b = batcher(up.send);
    const first = b.ask([key(0)], group, soon());
    await eventually("the batcher's upstream calls", () => up.sent.length === 1);
    const rest = [1, 2, 3, 4, 5].map((i) => b.ask([key(i)], group, soon()));
    await sleep(10);
    assert.equal(up.sent.length, 1, "nothing more is sent while the slot is busy");
    up.sent[0]!.release();
    await eventually("the batcher's upstream calls", () => up.sent.length === 2);
    assert.deepEqual(up.sent[1]!.keys, [1, 2, 3, 4, 5].map(key));
    assert.deepEqual(flushes.map((f) => f.reason), ["idle", "slot"]);
    up.sent[1]!.release();
    const results = await Promise.all([first, ...rest]);
    assert.ok(results.every(([r]) => r?.ok && r.answer.deviceKey !== ""));
    assert.deepEqual(results.map(([r]) => (r?.ok ? r.answer.deviceKey : "")), [0, 1, 2, 3, 4, 5].map(key));
  });

  it("never sends a batch above the registry's limit", async () => {
    const up = manualUpstream();
    const b = batcher(up.send, { limit: 3, maxInFlight: 2 });
    const blockers = [b.ask([key(100)], group, soon())];
    await eventually("the batcher's upstream calls", () => up.sent.length === 1);
    blockers.push(b.ask([key(101)], group, soon()));
    await eventually("the batcher's upstream calls", () => up.sent.length === 2);
    const many = b.ask(Array.from({ length: 10 }, (_, i) => key(i)), group, soon());
    const singles = Array.from({ length: 5 }, (_, i) => b.ask([key(50 + i)], group, soon()));
    for (const s of up.sent) s.release();
    for (let released = 2; ; ) {
      await sleep(5);
      for (; released < up.sent.length; released++) up.sent[released]!.release();
      if (b.queued === 0 && b.inFlight === 0) break;
    }
    const results = await Promise.all([...blockers, many, ...singles]);
    assert.ok(results.flat().every((r) => r.ok));
    assert.ok(up.sent.every((s) => s.keys.length <= 3), `batch sizes ${up.sent.map((s) => s.keys.length).join(",")}`);
    assert.equal(up.sent.reduce((n, s) => n + s.keys.length, 0), 17);
    assert.ok(flushes.some((f) => f.reason === "full"), "a queue at the limit leaves as full");
  });

  it("keeps each member's own deadline: one leaves at its deadline, the batch goes on for the other", async () => {
    const up = manualUpstream();
    const b = batcher(up.send, { maxInFlight: 1 });
    const blocker = b.ask([key(9)], group, soon());
    await eventually("the batcher's upstream calls", () => up.sent.length === 1);
    const short = b.ask([key(1)], group, soon(60));
    const long = b.ask([key(2)], group, soon(5_000));
    up.sent[0]!.release();
    await eventually("the batcher's upstream calls", () => up.sent.length === 2);
    assert.deepEqual(up.sent[1]!.keys, [key(1), key(2)]);
    assert.ok(up.sent[1]!.deadline.getTime() >= Date.now() + 4_000, "the batch runs to its latest member's deadline");
    const [shortResult] = await short;
    assert.ok(shortResult && !shortResult.ok && shortResult.error.code === Code.DEADLINE_EXCEEDED);
    up.sent[1]!.release();
    const [longResult] = await long;
    assert.ok(longResult?.ok, "the other member still gets its answer");
    await blocker;
  });

  it("does not send a queued member whose caller has already left", async () => {
    const up = manualUpstream();
    const b = batcher(up.send, { maxInFlight: 1 });
    const blocker = b.ask([key(9)], group, soon());
    await eventually("the batcher's upstream calls", () => up.sent.length === 1);
    const gone = b.ask([key(1)], group, soon(30));
    const [r] = await gone;
    assert.ok(r && !r.ok && r.error.code === Code.DEADLINE_EXCEEDED);
    const stays = b.ask([key(2)], group, soon());
    up.sent[0]!.release();
    await eventually("the batcher's upstream calls", () => up.sent.length === 2);
    assert.deepEqual(up.sent[1]!.keys, [key(2)]);
    up.sent[1]!.release();
    await Promise.all([blocker, stays]);
  });

  it("coalesces concurrent asks for one device by one requester into one upstream item", async () => {
    const up = manualUpstream();
    const b = batcher(up.send, { maxInFlight: 1 });
    const asks = Array.from({ length: 20 }, () => b.ask([key(7)], group, soon()));
    await eventually("the batcher's upstream calls", () => up.sent.length === 1);
    await sleep(10);
    up.sent[0]!.release();
    const results = await Promise.all(asks);
    assert.equal(up.sent.length, 1);
    assert.deepEqual(up.sent[0]!.keys, [key(7)]);
    assert.ok(results.every(([r]) => r?.ok));
  });

  it("asks separately for different requesters (each gets its registry's view) and purposes (each is audited)", async () => {
    const up = manualUpstream();
    const b = batcher(up.send, { maxInFlight: 1 });
    const blocker = b.ask([key(9)], group, soon());
    await eventually("the batcher's upstream calls", () => up.sent.length === 1);
    const customs: BatchGroup = { requester: { id: "customs-gb", kind: "customs", country: "GB" }, purpose: "decl-1" };
    const asks = [b.ask([key(1)], group, soon()), b.ask([key(1)], customs, soon()), b.ask([key(2)], { ...group, purpose: "case-2" }, soon())];
    up.sent[0]!.release();
    for (let released = 1; released < 4; released++) {
      await eventually("the batcher's upstream calls", () => up.sent.length > released);
      up.sent[released]!.release();
    }
    await Promise.all([blocker, ...asks]);
    assert.deepEqual(up.sent.slice(1).map((s) => [s.group.requester.id, s.group.purpose, s.keys.length]).sort(), [
      ["customs-gb", "decl-1", 1],
      ["police-es", "case-1", 1],
      ["police-es", "case-2", 1],
    ]);
  });

  it("a failed batch answers its members with the error; a closed circuit fails fast without a call", async () => {
    const up = manualUpstream();
    const b = batcher(up.send);
    const failing = b.ask([key(1), key(2)], group, soon());
    await eventually("the batcher's upstream calls", () => up.sent.length === 1);
    up.sent[0]!.release(new ImeifedError(Code.UNAVAILABLE, "UNAVAILABLE", "connection refused"));
    assert.deepEqual((await failing).map((r) => (r.ok ? "ok" : r.error.code)), [Code.UNAVAILABLE, Code.UNAVAILABLE]);
    const closed = batcher(up.send, { breaker: openBreaker() });
    const [r] = await closed.ask([key(3)], group, soon());
    assert.ok(r && !r.ok && r.error.reason === "CIRCUIT_OPEN");
    assert.equal(up.sent.length, 1);
  });

  it("sends queued misses after the window when every slot stays busy", async () => {
    const up = manualUpstream();
    const b = batcher(up.send, { maxInFlight: 1, maxWaitMs: 20 });
    const blocker = b.ask([key(9)], group, soon());
    await eventually("the batcher's upstream calls", () => up.sent.length === 1);
    const waiting = b.ask([key(1)], group, soon());
    await eventually("the batcher's upstream calls", () => up.sent.length === 2);
    assert.equal(flushes[1]?.reason, "window");
    for (const s of up.sent) s.release();
    await Promise.all([blocker, waiting]);
  });

  describe("bulk path (askBulk)", () => {
    it("sends every key at once in calls of at most the limit, without waiting for a slot, and hands each outcome over with its offset", async () => {
      const up = manualUpstream();
      const b = batcher(up.send, { limit: 4, maxInFlight: 1 });
      const settled: [number, number, boolean][] = [];
      const done = b.askBulk(Array.from({ length: 10 }, (_, i) => key(i)), group, soon(), (start, count, outcome) => settled.push([start, count, outcome.ok]));
      await eventually("the batcher's upstream calls", () => up.sent.length === 3);
      assert.deepEqual(up.sent.map((s) => s.keys.length), [4, 4, 2]);
      assert.equal(b.inFlight, 3, "bulk calls count as in flight");
      up.sent[1]!.release(new ImeifedError(Code.UNAVAILABLE, "UNAVAILABLE", "down"));
      up.sent[0]!.release();
      up.sent[2]!.release();
      await done;
      assert.deepEqual(settled.sort((x, y) => x[0] - y[0]), [[0, 4, true], [4, 4, false], [8, 2, true]]);
      assert.deepEqual(flushes.map((f) => f.reason), ["bulk", "bulk", "bulk"]);
    });

    it("a Lookup miss arriving while bulk calls fill the slots waits for a slot or the window", async () => {
      const up = manualUpstream();
      const b = batcher(up.send, { limit: 4, maxInFlight: 1, maxWaitMs: 1_000 });
      const bulk = b.askBulk([key(1), key(2)], group, soon(), () => undefined);
      await eventually("the batcher's upstream calls", () => up.sent.length === 1);
      const miss = b.ask([key(7)], group, soon());
      await sleep(10);
      assert.equal(up.sent.length, 1, "the miss queues behind the bulk call");
      up.sent[0]!.release();
      await eventually("the batcher's upstream calls", () => up.sent.length === 2);
      assert.deepEqual(up.sent[1]!.keys, [key(7)]);
      up.sent[1]!.release();
      await Promise.all([bulk, miss]);
    });

    it("a closed circuit or a passed deadline fails the chunk without a call", async () => {
      const up = manualUpstream();
      const outcomes: string[] = [];
      await batcher(up.send, { breaker: openBreaker() }).askBulk([key(1)], group, soon(), (_, __, o) => outcomes.push(o.ok ? "ok" : o.error.reason));
      await batcher(up.send).askBulk([key(1)], group, new Date(Date.now() - 1), (_, __, o) => outcomes.push(o.ok ? "ok" : o.error.reason));
      assert.deepEqual(outcomes, ["CIRCUIT_OPEN", "DEADLINE_EXCEEDED"]);
      assert.equal(up.sent.length, 0);
    });
  });
});
