import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { DeviceStatus } from "../../gen/imeifed/v1/device_pb.js";
import { StolenEventKind } from "../../gen/imeifed/v1/federation_pb.js";
import { decodeFeedCursor, type FeedCursor } from "../../gateway/stolen-feed/feed-cursor.js";
import { stolenFeed, type StolenEventInit } from "../../gateway/stolen-feed/stolen-feed.js";
import { StolenFeedHub } from "../../gateway/stolen-feed/stolen-feed-hub.js";
import { tacFilterFor } from "../../gateway/stolen-feed/tac-filter.js";
import { ChangeLogRegistry } from "./change-log-registry.js";

const OEM = tacFilterFor(["35693803", "86"]);
const MINE = "35693803000001";
const MINE_TOO = "86123456000002";
const OTHERS = "35111111000003";
const FAST = { initialMs: 20, maxMs: 100 };

/**
 * Runs a feed in the background, collecting its events until stopped. It asks for a replay (registries without a
 * position are read from their first change), as these tests append changes before the feed opens.
 */
function runFeed(registries: ChangeLogRegistry[], from: FeedCursor = new Map(), { replay = true } = {}) {
  const stop = new AbortController();
  const sources = registries.map((r) => r.source());
  const events: StolenEventInit[] = [];
  const notices: string[] = [];
  const log = (e: { country: string; msg: string }) => void notices.push(`${e.country}: ${e.msg}`);
  const hub = new StolenFeedHub({ limits: { maxStreamsPerPrincipal: 4, replayWindow: 1_000, maxCatchUpsPerRegistry: 4 }, backoff: FAST, log });
  const audience = { id: "oem-demo", key: "oem-demo", tacFilter: OEM };
  const done = (async () => {
    for await (const output of stolenFeed({ hub, audience, sources, from, replay, signal: stop.signal, backoff: FAST, log })) {
      if ("event" in output) events.push(output.event);
    }
  })();
  return {
    events,
    notices,
    /** Waits until `n` events arrived (or fails after `ms`). */
    async waitFor(n: number, ms = 5_000) {
      const until = Date.now() + ms;
      while (events.length < n) {
        if (Date.now() > until) assert.fail(`expected ${n} events within ${ms} ms, got ${events.length}: ${events.map((e) => e.eventId).join(", ")}`);
        await sleep(10);
      }
      return events;
    },
    async stop() {
      stop.abort();
      await done;
      for (const s of sources) s.close();
    },
  };
}

describe("stolen feed over registry change streams", () => {
  let gb: ChangeLogRegistry;
  let es: ChangeLogRegistry;

  beforeEach(async () => {
    gb = new ChangeLogRegistry("GB");
    es = new ChangeLogRegistry("ES");
    await gb.start();
    await es.start();
  });
  afterEach(async () => {
    await gb.stop();
    await es.stop();
  });

  it("merges every registry's verified changes of the manufacturer's devices, with attestation, event id and cursor", async () => {
    gb.append({ kind: "REPORTED", deviceKey: MINE, statusAfter: DeviceStatus.PROHIBITED, verified: true });
    gb.append({ kind: "REPORTED", deviceKey: OTHERS, statusAfter: DeviceStatus.PROHIBITED, verified: true });
    gb.append({ kind: "REPORTED", deviceKey: MINE_TOO, statusAfter: DeviceStatus.PROHIBITED, verified: false });
    es.append({ kind: "REPORTED", deviceKey: MINE_TOO, statusAfter: DeviceStatus.TRACKED, verified: true });
    const feed = runFeed([gb, es]);
    try {
      await feed.waitFor(2);
      gb.append({ kind: "CLEARED", deviceKey: MINE, statusAfter: DeviceStatus.PERMITTED, verified: true });
      const events = await feed.waitFor(3);
      const byId = new Map(events.map((e) => [e.eventId, e]));
      assert.deepEqual([...byId.keys()].sort(), ["ES:epoch-ES-1:1", "GB:epoch-GB-1:1", "GB:epoch-GB-1:4"]);
      const stolen = byId.get("GB:epoch-GB-1:1")!;
      assert.equal(stolen.kind, StolenEventKind.STOLEN_VERIFIED);
      assert.equal(stolen.attestation, "attestation-of-GB-1");
      assert.equal(stolen.device?.deviceKey, MINE);
      assert.equal(stolen.device?.imei, "356938030000013");
      assert.equal(byId.get("ES:epoch-ES-1:1")!.kind, StolenEventKind.TRACKED);
      const cleared = byId.get("GB:epoch-GB-1:4")!;
      assert.equal(cleared.kind, StolenEventKind.CLEARED);
      // The last cursor covers everything handled, including the changes filtered out.
      assert.deepEqual(decodeFeedCursor(cleared.cursor!), new Map([["GB", { epoch: "epoch-GB-1", seq: 4n }], ["ES", { epoch: "epoch-ES-1", seq: 1n }]]));
      await sleep(100);
      assert.equal(feed.events.length, 3, "nothing unverified or of another manufacturer arrives");
    } finally {
      await feed.stop();
    }
  });

  it("resumes from a cursor with exactly the later events", async () => {
    gb.append({ kind: "REPORTED", deviceKey: MINE, statusAfter: DeviceStatus.PROHIBITED, verified: true });
    es.append({ kind: "REPORTED", deviceKey: MINE_TOO, statusAfter: DeviceStatus.PROHIBITED, verified: true });
    const first = runFeed([gb, es]);
    const [, second] = await first.waitFor(2);
    await first.stop();
    gb.append({ kind: "CLEARED", deviceKey: MINE, statusAfter: DeviceStatus.PERMITTED, verified: true });
    // Resume from the last event's cursor: both registries continue after what that cursor covers.
    const resumed = runFeed([gb, es], decodeFeedCursor(second!.cursor!));
    try {
      const events = await resumed.waitFor(1);
      assert.equal(events[0]!.eventId, "GB:epoch-GB-1:2");
      await sleep(100);
      assert.equal(resumed.events.length, 1);
      const lastRequests = [gb.requests.at(-1), es.requests.at(-1)];
      assert.deepEqual(lastRequests, [{ afterSequence: 1n, epoch: "epoch-GB-1" }, { afterSequence: 1n, epoch: "epoch-ES-1" }]);
    } finally {
      await resumed.stop();
    }
  });

  it("keeps the other registries flowing while one is down, and delivers the down one's changes when it returns", async () => {
    await gb.stop();
    const feed = runFeed([gb, es]);
    try {
      es.append({ kind: "REPORTED", deviceKey: MINE_TOO, statusAfter: DeviceStatus.PROHIBITED, verified: true });
      await feed.waitFor(1);
      assert.equal(feed.events[0]!.country, "ES");
      gb.append({ kind: "REPORTED", deviceKey: MINE, statusAfter: DeviceStatus.PROHIBITED, verified: true });
      await gb.start();
      const events = await feed.waitFor(2);
      assert.equal(events[1]!.eventId, "GB:epoch-GB-1:1");
      assert.ok(feed.notices.some((n) => n.startsWith("GB: registry change stream lost")));
    } finally {
      await feed.stop();
    }
  });

  it("resumes a restarted registry after its last sequence, losing and repeating nothing", async () => {
    const feed = runFeed([gb]);
    try {
      gb.append({ kind: "REPORTED", deviceKey: MINE, statusAfter: DeviceStatus.PROHIBITED, verified: true });
      await feed.waitFor(1);
      await gb.stop();
      gb.append({ kind: "CLEARED", deviceKey: MINE, statusAfter: DeviceStatus.PERMITTED, verified: true });
      gb.append({ kind: "REPORTED", deviceKey: MINE_TOO, statusAfter: DeviceStatus.PROHIBITED, verified: true });
      await gb.start();
      const events = await feed.waitFor(3);
      assert.deepEqual(events.map((e) => e.eventId), ["GB:epoch-GB-1:1", "GB:epoch-GB-1:2", "GB:epoch-GB-1:3"]);
      assert.deepEqual(gb.requests.at(-1), { afterSequence: 1n, epoch: "epoch-GB-1" });
      // One line when the stream was lost and one when it resumed, not one per retry.
      assert.deepEqual(feed.notices.filter((n) => n.startsWith("GB:")), ["GB: registry change stream lost; reconnecting with backoff", "GB: registry change stream resumed"]);
    } finally {
      await feed.stop();
    }
  });

  it("replays a registry from sequence 0 when its epoch changed", async () => {
    gb.append({ kind: "REPORTED", deviceKey: MINE, statusAfter: DeviceStatus.PROHIBITED, verified: true });
    const first = runFeed([gb]);
    const [event] = await first.waitFor(1);
    await first.stop();
    await gb.stop();
    gb.newEpoch("epoch-GB-2");
    gb.append({ kind: "REPORTED", deviceKey: MINE, statusAfter: DeviceStatus.PROHIBITED, verified: true });
    await gb.start();
    const resumed = runFeed([gb], decodeFeedCursor(event!.cursor!));
    try {
      const events = await resumed.waitFor(1);
      assert.equal(events[0]!.eventId, "GB:epoch-GB-2:1");
      assert.deepEqual(decodeFeedCursor(events[0]!.cursor!).get("GB"), { epoch: "epoch-GB-2", seq: 1n });
      assert.deepEqual(gb.requests.slice(-2), [{ afterSequence: 1n, epoch: "epoch-GB-1" }, { afterSequence: 0n, epoch: "" }]);
      assert.ok(resumed.notices.some((n) => n.includes("sequences restarted")));
    } finally {
      await resumed.stop();
    }
  });

  it("keeps the position of a registry in the cursor that this gateway does not follow", async () => {
    gb.append({ kind: "REPORTED", deviceKey: MINE, statusAfter: DeviceStatus.PROHIBITED, verified: true });
    const feed = runFeed([gb], new Map([["JP", { epoch: "epoch-JP-9", seq: 77n }]]));
    try {
      const [event] = await feed.waitFor(1);
      assert.deepEqual(decodeFeedCursor(event!.cursor!).get("JP"), { epoch: "epoch-JP-9", seq: 77n });
    } finally {
      await feed.stop();
    }
  });

  it("closes every upstream stream when the feed is cancelled", async () => {
    const feed = runFeed([gb, es], new Map(), { replay: false });
    const until = Date.now() + 2_000;
    while (gb.openStreams + es.openStreams < 2 && Date.now() < until) await sleep(10);
    assert.equal(gb.openStreams + es.openStreams, 2);
    await feed.stop();
    const closedBy = Date.now() + 2_000;
    while (gb.openStreams + es.openStreams > 0 && Date.now() < closedBy) await sleep(10);
    assert.equal(gb.openStreams + es.openStreams, 0);
  });
});
