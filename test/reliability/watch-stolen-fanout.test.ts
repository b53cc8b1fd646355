/**
 * The stolen feed under many manufacturer streams (issue 18, defect 4), over
 * real sockets: two real registries (each with a few thousand verified thefts
 * already in its change log) and a real gateway in this process. Each registry
 * counts its open WatchChanges streams by requester through a server
 * interceptor, so what the feeds cost the registries is measured, not assumed.
 *
 * "Nothing arrives" is never asserted by waiting: a later marker event that
 * must arrive is sent instead.
 */
import assert from "node:assert/strict";
import { FederationService, type StolenEvent } from "../../gen/imeifed/v1/federation_pb.js";
import { Code, ImeifedError } from "../../errors/index.js";
import { createClient, type Client, type ServerInterceptor } from "../../rpc/index.js";
import { CALLER, requesterOf } from "../../trust/principal.js";
import { decodeFeedCursor } from "../../gateway/stolen-feed/feed-cursor.js";
import type { GatewayConfigInput } from "../../gateway/config.js";
import { createTestTrust, DEFAULT_TEST_PRINCIPALS, type TestTrust } from "../support/trust-fixture.js";
import { startTestRegistry, storeReport, type TestRegistry } from "../support/registry-fixture.js";
import { startTestGateway, type TestGateway } from "../gateway/support/test-gateway.js";
import { testDevice } from "../registry/test-imeis.js";
import { eventually } from "../support/waiting.js";

const PRINCIPALS = [...DEFAULT_TEST_PRINCIPALS, { id: "oem-other", kind: "manufacturer" as const, country: "KR", tacPrefixes: ["35111111"] }];
/** Verified thefts of the demo manufacturer's phones in each registry's log before any feed opens. */
const HISTORY = 2_000;
const STREAMS = 100;

/** Counts a registry's WatchChanges streams by requester (the manufacturer a gateway acts for, or the gateway itself). */
function watchCounter() {
  const open = new Map<string, number>();
  const calls = new Map<string, number>();
  const add = (map: Map<string, number>, who: string, n: number) => map.set(who, (map.get(who) ?? 0) + n);
  const interceptor: ServerInterceptor = async (ctx, next) => {
    if (ctx.method !== "WatchChanges") return next();
    const caller = ctx.values.get(CALLER);
    const who = caller ? requesterOf(caller).id : "unauthenticated";
    add(open, who, 1);
    add(calls, who, 1);
    try {
      await next();
    } finally {
      add(open, who, -1);
    }
  };
  return {
    interceptor,
    /** WatchChanges streams open now for `who`. */
    open: (who: string) => open.get(who) ?? 0,
    /** Every WatchChanges stream open now. */
    openTotal: () => [...open.values()].reduce((a, b) => a + b, 0),
    /** WatchChanges calls `who` made so far. */
    calls: (who: string) => calls.get(who) ?? 0,
  };
}

/** How long a wait may take on a loaded machine (every wait is for something that must happen). */
const PATIENCE = { timeoutMs: 30_000 };
/** A replay reads both registries' histories. */
const REPLAY_PATIENCE = { timeoutMs: 60_000 };

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** One WatchStolen call read in the background: its events, its cursor-only responses, and how it ended. */
function openFeed(client: Client<typeof FederationService>, request: { cursor?: string; replay?: boolean } = {}) {
  const stop = new AbortController();
  const events: StolenEvent[] = [];
  const cursors: string[] = [];
  let responses = 0;
  let failure: unknown;
  let ended = false;
  const done = (async () => {
    try {
      for await (const response of client.watchStolen({ cursor: request.cursor ?? "", replay: request.replay ?? false }, { signal: stop.signal })) {
        responses++;
        if (response.event) events.push(response.event);
        else cursors.push(response.cursor);
      }
    } catch (error) {
      failure = error;
    } finally {
      ended = true;
    }
  })();
  return {
    events,
    cursors,
    get responses() {
      return responses;
    },
    get failure() {
      return failure;
    },
    get ended() {
      return ended;
    },
    keys: () => events.map((e) => e.device?.deviceKey),
    async close() {
      stop.abort();
      await done;
    },
  };
}
type Feed = ReturnType<typeof openFeed>;

describe("WatchStolen fan-out: many manufacturer streams, one follower per registry (issue 18, defect 4)", function () {
  this.timeout(90_000);
  let trust: TestTrust;
  let gb: TestRegistry;
  let es: TestRegistry;
  const counters = { GB: watchCounter(), ES: watchCounter() };
  let serial = 300_000;
  /** A fresh device key of the demo manufacturer (or of `tac`). */
  const device = (tac = "35693803") => testDevice(++serial, tac).key;
  let gw: TestGateway | undefined;
  const clients: Client<typeof FederationService>[] = [];

  /** A gateway in front of both registries with these stolen-feed (and, when given, admission) settings. */
  async function gateway(stolenFeed: NonNullable<GatewayConfigInput["stolenFeed"]> = {}, admission?: GatewayConfigInput["admission"]): Promise<TestGateway> {
    gw = await startTestGateway({ trust, registries: [{ country: "GB", address: gb.registry.address }, { country: "ES", address: es.registry.address }], config: { stolenFeed, ...(admission ? { admission } : {}) } });
    return gw;
  }

  /** A client of its own connection (one per group of streams: no test depends on how many streams share a connection). */
  function client(principal: string, channelOptions: Record<string, number> = {}): Client<typeof FederationService> {
    const c = createClient(FederationService, gw!.gateway.address, {
      metadata: trust.metadataFor(principal, "gateway"),
      channelOptions: { "grpc.use_local_subchannel_pool": 1, ...channelOptions },
    });
    clients.push(c);
    return c;
  }

  async function seed(registry: TestRegistry, agency: string, first: number): Promise<void> {
    await registry.registry.store.importReports(
      (async function* () {
        for (let i = 0; i < HISTORY; i++) {
          yield { line: i + 2, report: storeReport(testDevice(first + i).key, { agency, caseReference: `SEED-${first + i}`, crimeReference: `CR-${first + i}` }) };
        }
      })(),
    );
  }

  before(async () => {
    trust = await createTestTrust(PRINCIPALS);
    gb = await startTestRegistry({ country: "GB", trust, interceptors: [counters.GB.interceptor] });
    es = await startTestRegistry({ country: "ES", trust, interceptors: [counters.ES.interceptor] });
    await seed(gb, "police-gb", 100_000);
    await seed(es, "police-es", 200_000);
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    await gw?.shutdown();
    gw = undefined;
    // Every feed's followers are gone with their gateway: the next test counts from nothing.
    await eventually("the registries hold no manufacturer stream", () => counters.GB.open("oem-demo") + counters.ES.open("oem-demo") + counters.GB.open("oem-other") + counters.ES.open("oem-other") === 0, PATIENCE);
  });
  after(async () => {
    await gb?.cleanup();
    await es?.cleanup();
    await trust?.cleanup();
  });

  it(`costs each registry one WatchChanges stream for ${STREAMS} streams of a manufacturer, and a Lookup stays fast meanwhile`, async () => {
    // The gateway's own limit on any partner's open streams (admission) is raised with the feed's.
    await gateway({ maxStreamsPerPrincipal: STREAMS }, { maxStreamsPerPrincipal: STREAMS, maxStreams: 2 * STREAMS });
    const police = client("police-gb");
    const lookupMs = async (n: number) => {
      const times: number[] = [];
      for (let i = 0; i < n; i++) {
        const started = performance.now();
        await police.lookup({ imei: testDevice(++serial, "35111111").imei, purpose: "case GB-18" }, { deadline: 30_000 });
        times.push(performance.now() - started);
      }
      return times;
    };
    await lookupMs(5);
    const quiet = median(await lookupMs(15));
    // Spread over four connections of their own.
    const oems = Array.from({ length: 4 }, () => client("oem-demo"));
    const feeds: Feed[] = Array.from({ length: STREAMS }, (_, i) => openFeed(oems[i % oems.length]!));
    try {
      await eventually(`all ${STREAMS} streams have answered`, () => feeds.every((f) => f.responses > 0 || f.failure !== undefined), PATIENCE);
      assert.equal(feeds.filter((f) => f.failure !== undefined).length, 0, String(feeds.find((f) => f.failure)?.failure));
      const busy = median(await lookupMs(15));
      for (const country of ["GB", "ES"] as const) {
        assert.equal(counters[country].open("oem-demo"), 1, `${country}'s WatchChanges streams for the manufacturer`);
        // The other one is the gateway's own (its cache's change follower).
        assert.equal(counters[country].openTotal(), 2, `${country}'s WatchChanges streams in all`);
      }
      assert.ok(busy <= quiet * 5 + 100, `Lookup median ${busy.toFixed(1)} ms with ${STREAMS} streams open, ${quiet.toFixed(1)} ms without`);
      // A theft reported now reaches every stream.
      const stolen = device();
      await es.report({ imeis: [stolen] });
      await eventually("every stream has the theft", () => feeds.every((f) => f.keys().includes(stolen)), PATIENCE);
    } finally {
      await Promise.all(feeds.map((f) => f.close()));
    }
  });

  it("starts a fresh stream at the head: a theft reported after it opened arrives, none of the history before it", async () => {
    await gateway();
    const feed = openFeed(client("oem-demo"));
    try {
      await eventually("the stream opens", () => feed.responses > 0, PATIENCE);
      const stolen = device();
      await gb.report({ imeis: [stolen] });
      await eventually("the theft arrives", () => feed.keys().includes(stolen), PATIENCE);
      assert.deepEqual(feed.keys(), [stolen], `the ${HISTORY * 2} thefts reported before the stream opened are not replayed`);
      // The opening cursor already names where each registry starts.
      assert.deepEqual([...decodeFeedCursor(feed.cursors[0]!).keys()].sort(), ["ES", "GB"]);
    } finally {
      await feed.close();
    }
  });

  it("resumes from a cursor with every event since it: from memory inside the window, by a catch-up that ends at the window before it", async () => {
    await gateway({ replayWindow: 5 });
    const oem = client("oem-demo");
    // Keeps the shared followers (and their windows) alive while the others come and go.
    const keeper = openFeed(oem);
    await eventually("the keeper opens", () => keeper.responses > 0, PATIENCE);
    const first = openFeed(oem);
    await eventually("the first stream opens", () => first.responses > 0, PATIENCE);
    const a = device();
    await gb.report({ imeis: [a] });
    await eventually("the first stream has A", () => first.keys().includes(a), PATIENCE);
    const cursor = first.events.at(-1)!.cursor;
    await first.close();

    // Inside the window: served from memory, no WatchChanges of its own.
    const near = [device(), device()];
    for (const key of near) await gb.report({ imeis: [key] });
    await eventually("the keeper has them", () => near.every((k) => keeper.keys().includes(k)), PATIENCE);
    const callsBefore = counters.GB.calls("oem-demo") + counters.ES.calls("oem-demo");
    const resumed = openFeed(oem, { cursor });
    try {
      await eventually("the resumed stream has the thefts since its cursor", () => resumed.events.length >= near.length, PATIENCE);
      assert.deepEqual(resumed.keys(), near);
      assert.equal(counters.GB.calls("oem-demo") + counters.ES.calls("oem-demo"), callsBefore, "resuming inside the window opens no WatchChanges");
    } finally {
      await resumed.close();
    }

    // Before the window (more events since than it holds): a catch-up stream of its own, closed once it reaches the window.
    const far = Array.from({ length: 8 }, () => device());
    for (const key of far) await gb.report({ imeis: [key] });
    await eventually("the keeper has them", () => far.every((k) => keeper.keys().includes(k)), PATIENCE);
    const gbCallsBefore = counters.GB.calls("oem-demo");
    const late = openFeed(oem, { cursor });
    try {
      await eventually("the late stream has every theft since its cursor", () => late.events.length >= near.length + far.length, PATIENCE);
      assert.deepEqual(late.keys(), [...near, ...far], "each once, in order");
      assert.equal(counters.GB.calls("oem-demo"), gbCallsBefore + 1, "one catch-up stream");
      await eventually("the catch-up stream is closed", () => counters.GB.open("oem-demo") === 1, PATIENCE);
      const after = device();
      await gb.report({ imeis: [after] });
      await eventually("a later theft reaches it through the shared follower", () => late.keys().includes(after), PATIENCE);
    } finally {
      await late.close();
      await keeper.close();
    }
  });

  it("replays a registry's history when asked, then follows the shared follower like every other stream", async () => {
    await gateway();
    const oem = client("oem-demo");
    const live = openFeed(oem);
    await eventually("the live stream opens", () => live.responses > 0, PATIENCE);
    const replay = openFeed(oem, { replay: true });
    try {
      await eventually("the replay has both registries' history", () => replay.events.length >= HISTORY * 2, REPLAY_PATIENCE);
      const seeded = new Set(replay.keys());
      for (const i of [0, HISTORY - 1]) {
        assert.ok(seeded.has(testDevice(100_000 + i).key), `GB's theft ${i}`);
        assert.ok(seeded.has(testDevice(200_000 + i).key), `ES's theft ${i}`);
      }
      await eventually("both streams are served by one follower per registry", () => counters.GB.open("oem-demo") === 1 && counters.ES.open("oem-demo") === 1, PATIENCE);
      const stolen = device();
      await gb.report({ imeis: [stolen] });
      await eventually("a later theft reaches both", () => replay.keys().includes(stolen) && live.keys().includes(stolen), PATIENCE);
      assert.equal(replay.keys().filter((k) => k === stolen).length, 1);
    } finally {
      await replay.close();
      await live.close();
    }
  });

  it("refuses a manufacturer's streams beyond its cap at once, with RESOURCE_EXHAUSTED naming the cap, while other manufacturers' open", async () => {
    await gateway({ maxStreamsPerPrincipal: 3 });
    const oem = client("oem-demo");
    const feeds = [openFeed(oem), openFeed(oem), openFeed(oem)];
    try {
      await eventually("three streams open", () => feeds.every((f) => f.responses > 0), PATIENCE);
      const started = performance.now();
      const refused = openFeed(oem);
      await eventually("the fourth is refused", () => refused.ended, PATIENCE);
      const tookMs = performance.now() - started;
      assert.ok(refused.failure instanceof ImeifedError, String(refused.failure));
      assert.equal(Code[refused.failure.code], "RESOURCE_EXHAUSTED");
      assert.equal(refused.failure.reason, "FEED_STREAMS_PER_PRINCIPAL");
      assert.match(refused.failure.message, /stolenFeed\.maxStreamsPerPrincipal \(3\)/);
      assert.ok((refused.failure.retryAfterMs ?? 0) > 0);
      assert.equal(refused.responses, 0);
      assert.ok(tookMs < 5_000, `refused after ${tookMs.toFixed(0)} ms`);
      const other = openFeed(client("oem-other"));
      await eventually("another manufacturer's stream opens", () => other.responses > 0 || other.ended, PATIENCE);
      assert.equal(other.failure, undefined);
      await other.close();
      // A closed stream frees its place.
      await feeds.shift()!.close();
      let again: Feed | undefined;
      await eventually(
        "a new stream opens in the freed place",
        () => {
          if (again?.ended) again = undefined;
          again ??= openFeed(oem);
          return again.responses > 0;
        },
        PATIENCE,
      );
      feeds.push(again!);
    } finally {
      await Promise.all(feeds.map((f) => f.close()));
    }
  });

  it("ends a stream that stops reading once it falls out of the window, with RESOURCE_EXHAUSTED, while the others keep up", async () => {
    const window = 10;
    await gateway({ replayWindow: window });
    const oem = client("oem-demo");
    const fast = [openFeed(oem), openFeed(oem)];
    // A small flow-control window, so the stream stops taking events soon after its reader stops.
    const slowClient = client("oem-demo", { "grpc-node.flow_control_window": 65_535 });
    const slow = slowClient.watchStolen({ cursor: "", replay: false })[Symbol.asyncIterator]();
    try {
      await eventually("the fast streams open", () => fast.every((f) => f.responses > 0), PATIENCE);
      const opening = await slow.next();
      assert.ok(!opening.done && opening.value.event === undefined, "the stream opens with its cursor");
      const thefts: string[] = [];
      // Reported in steps of half the window, each step waiting for the fast streams: they never fall behind.
      while (thefts.length < 150) {
        const step = Array.from({ length: window / 2 }, () => device());
        for (const key of step) await gb.report({ imeis: [key] });
        thefts.push(...step);
        await eventually("the fast streams keep up", () => fast.every((f) => f.events.length >= thefts.length), PATIENCE);
      }
      for (const feed of fast) {
        assert.deepEqual(feed.keys(), thefts);
        assert.equal(feed.failure, undefined);
      }
      let ended: unknown;
      let read = 0;
      try {
        for (;;) {
          const next = await slow.next();
          if (next.done) break;
          read++;
        }
      } catch (error) {
        ended = error;
      }
      assert.ok(ended instanceof ImeifedError, `the slow stream read ${read} responses and ended with ${String(ended)}`);
      assert.equal(Code[ended.code], "RESOURCE_EXHAUSTED");
      assert.equal(ended.reason, "FEED_CONSUMER_TOO_SLOW");
      assert.match(ended.message, /stolenFeed\.replayWindow/);
      assert.ok(read < thefts.length, `it was ended before the end (read ${read} of ${thefts.length})`);
    } finally {
      await slow.return?.();
      await Promise.all(fast.map((f) => f.close()));
    }
  });

  it("refuses a catch-up beyond the registry's catch-up cap at once, with RESOURCE_EXHAUSTED and a retry delay", async () => {
    await gateway({ maxCatchUpsPerRegistry: 1 });
    const oem = client("oem-demo");
    // A replay that stops reading holds its catch-up of each registry (its stream waits for the reader).
    const holderClient = client("oem-demo", { "grpc-node.flow_control_window": 65_535 });
    const holder = holderClient.watchStolen({ cursor: "", replay: true })[Symbol.asyncIterator]();
    try {
      await holder.next();
      await eventually("the replay holds a catch-up of each registry", () => counters.GB.open("oem-demo") === 2 && counters.ES.open("oem-demo") === 2, PATIENCE);
      const started = performance.now();
      const refused = openFeed(oem, { replay: true });
      await eventually("the second replay is refused", () => refused.ended, PATIENCE);
      const tookMs = performance.now() - started;
      assert.ok(refused.failure instanceof ImeifedError, String(refused.failure));
      assert.equal(Code[refused.failure.code], "RESOURCE_EXHAUSTED");
      assert.equal(refused.failure.reason, "FEED_CATCH_UP_BUSY");
      assert.match(refused.failure.message, /stolenFeed\.maxCatchUpsPerRegistry/);
      assert.ok((refused.failure.retryAfterMs ?? 0) > 0);
      assert.ok(tookMs < 5_000, `refused after ${tookMs.toFixed(0)} ms`);
      // Once the holder has gone, the same request succeeds (retried, as its retry delay says, until the gateway has seen it go).
      await holder.return?.();
      let retried: Feed | undefined;
      try {
        await eventually(
          "a retried replay gets the history",
          () => {
            if (retried?.ended) retried = undefined;
            retried ??= openFeed(oem, { replay: true });
            return retried.events.length >= HISTORY * 2;
          },
          REPLAY_PATIENCE,
        );
      } finally {
        await retried?.close();
      }
    } finally {
      await holder.return?.();
    }
  });

  it("sends a stream whose manufacturer had no event its cursor alone, moved past the other manufacturers' changes", async () => {
    await gateway({ progressIntervalMs: 50 });
    const other = openFeed(client("oem-other"));
    try {
      await eventually("the stream opens", () => other.cursors.length > 0, PATIENCE);
      const opened = decodeFeedCursor(other.cursors[0]!).get("GB")!;
      for (let i = 0; i < 3; i++) await gb.report({ imeis: [device()] });
      const last = opened.seq + 3n;
      await eventually("a cursor covers the demo manufacturer's thefts", () => other.cursors.some((c) => (decodeFeedCursor(c).get("GB")?.seq ?? 0n) >= last), PATIENCE);
      assert.equal(other.events.length, 0);
    } finally {
      await other.close();
    }
  });
});
