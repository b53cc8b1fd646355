import assert from "node:assert/strict";
import { DeviceStatus } from "../../gen/imeifed/v1/device_pb.js";
import { SharedRegistryFeed, type WindowEntry } from "../../gateway/stolen-feed/shared-registry-feed.js";
import { tacFilterFor } from "../../gateway/stolen-feed/tac-filter.js";
import { eventually } from "../support/waiting.js";
import { ChangeLogRegistry } from "./change-log-registry.js";

const OEM = tacFilterFor(["35693803"]);
const FAST = { initialMs: 20, maxMs: 100 };
let serial = 0;
const theft = () => ({ kind: "REPORTED" as const, deviceKey: `35693803${String(++serial).padStart(6, "0")}`, statusAfter: DeviceStatus.PROHIBITED, verified: true });
const at = (seq: number, epoch = "epoch-GB-1") => ({ epoch, seq: BigInt(seq) });

describe("shared registry feed: one registry followed once, recent events in a bounded window", () => {
  let gb: ChangeLogRegistry;
  let feed: SharedRegistryFeed | undefined;
  let source: ReturnType<ChangeLogRegistry["source"]>;

  beforeEach(async () => {
    gb = new ChangeLogRegistry("GB");
    await gb.start();
    source = gb.source();
  });
  afterEach(async () => {
    await feed?.stop();
    feed = undefined;
    source.close();
    await gb.stop();
  });

  function follow(window: number) {
    feed = new SharedRegistryFeed({ source, tacFilter: OEM, from: at(0, ""), window, backoff: FAST });
    feed.start();
    return feed;
  }

  it("starts a window's worth of changes before the head and covers positions from just before the first change it read", async () => {
    for (let i = 0; i < 5; i++) gb.append(theft());
    const shared = follow(3);
    await eventually("the follower is ready", () => shared.ready);
    assert.deepEqual(gb.requests, [{ afterSequence: 0n, epoch: "" }]);
    assert.equal(shared.head, 5n);
    assert.deepEqual([1, 2, 3, 5, 6].map((seq) => shared.covers(at(seq))), [false, true, true, true, false]);
    assert.equal(shared.covers(at(3, "epoch-GB-0")), false, "another epoch is never covered");
    const reader = shared.readFrom(at(3), () => {})!;
    assert.deepEqual([reader.take(), reader.take(), reader.take()].map((e) => (e as WindowEntry | undefined)?.seq), [4n, 5n, undefined]);
    reader.close();
  });

  it("drops its oldest event past the window, moving its start, and tells a reader that had not read it, once, without waiting for it", async () => {
    const shared = follow(2);
    await eventually("the follower is ready", () => shared.ready);
    let overruns = 0;
    const idle = shared.readFrom(at(0), () => overruns++)!;
    const reading = shared.readFrom(at(0), () => assert.fail("a reader that keeps up is never overrun"));
    const read: bigint[] = [];
    for (let i = 1; i <= 4; i++) {
      gb.append(theft());
      await eventually(`change ${i} is followed`, () => shared.head === BigInt(i));
      for (let entry = reading!.take(); entry !== undefined; entry = reading!.take()) read.push((entry as WindowEntry).seq);
    }
    assert.deepEqual(read, [1n, 2n, 3n, 4n]);
    await eventually("the idle reader is told", () => overruns === 1);
    assert.equal(idle.take(), "overrun");
    assert.deepEqual([shared.covers(at(1)), shared.covers(at(2)), shared.covers(at(4))], [false, true, true]);
    reading!.close();
  });

  it("ends every reader and empties the window when the registry's sequences restart", async () => {
    gb.append(theft());
    const shared = follow(10);
    await eventually("the follower is ready", () => shared.ready);
    const reader = shared.readFrom(at(0), () => {})!;
    await gb.stop();
    gb.newEpoch("epoch-GB-2");
    gb.append(theft());
    await gb.start();
    await eventually("the follower follows the new epoch", () => shared.ready && shared.epoch === "epoch-GB-2", { timeoutMs: 10_000 });
    assert.equal(reader.take(), "reset");
    assert.equal(shared.covers(at(1)), false);
    assert.equal(shared.covers(at(0, "epoch-GB-2")), true);
  });
});
