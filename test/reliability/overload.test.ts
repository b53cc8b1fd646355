/**
 * Overload, over real sockets against a real gateway and two real registries:
 * past a partner's (or the whole gateway's) limits a call is refused at once
 * with RESOURCE_EXHAUSTED and `retry-after-ms`, never queued; the calls it
 * admits are answered within their deadlines; another partner keeps being
 * answered; streams are bounded per partner, end when idle, and end when their
 * token expires. The admitted calls of the flooding partners are held by a
 * test interceptor behind admission, so "in flight" does not depend on how
 * fast this machine answers.
 */
import assert from "node:assert/strict";
import { connect, type ClientHttp2Session } from "node:http2";
import { setTimeout as sleep } from "node:timers/promises";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ImeifedError } from "../../errors/index.js";
import { FederationService, ScreeningDecision, Verdict, type ScreenRequestSchema, type ScreeningSummary } from "../../gen/imeifed/v1/federation_pb.js";
import { CHECK_STREAM_POOL_DEFAULTS } from "../../gateway/upstream/check-stream-pool.js";
import { SCREENING_DEFAULTS } from "../../gateway/screening/manifest-screening.js";
import { AsyncQueue } from "../../rpc/async-queue.js";
import { createClient, type Client, type ServerInterceptor } from "../../rpc/index.js";
import { ADMISSION_REASON } from "../../trust/admission.js";
import { CALLER } from "../../trust/principal.js";
import { STREAM_EXPIRED } from "../../trust/stream-expired.js";
import { startTestRegistry, type TestRegistry } from "../support/registry-fixture.js";
import { createTestTrust, type TestTrust } from "../support/trust-fixture.js";
import { startTestGateway, type TestGateway } from "../gateway/support/test-gateway.js";
import { imeiOf } from "../screening/support/screening-federation.js";
import { eventually, waitFor } from "../support/waiting.js";

type ScreenRequest = MessageInitShape<typeof ScreenRequestSchema>;

/** How long the flooding partners' admitted Lookups are held (their "work"). */
const HOLD_MS = 1_500;
const LIMITS = { maxInFlightPerPrincipal: 20, maxInFlight: 40, maxStreamsPerPrincipal: 4, maxStreams: 8, streamIdleMs: 500 };

let serial = 400_000;
/** A device no other call asked about (a cache miss that both registries answer PERMITTED). */
const freshImei = () => imeiOf(`35693803${String(serial++).padStart(6, "0")}`);

/** How one call ended and after how long. */
interface Outcome {
  ms: number;
  error?: ImeifedError;
}

async function timed(call: () => Promise<unknown>): Promise<Outcome> {
  const started = Date.now();
  try {
    await call();
    return { ms: Date.now() - started };
  } catch (error) {
    if (!(error instanceof ImeifedError)) throw error;
    return { ms: Date.now() - started, error };
  }
}

function assertRefused(outcome: Outcome, reason: string): void {
  assert.ok(outcome.error, "refused");
  assert.deepEqual([Code[outcome.error.code], outcome.error.reason], ["RESOURCE_EXHAUSTED", reason], outcome.error.message);
  assert.ok((outcome.error.retryAfterMs ?? 0) > 0, "carries retry-after-ms");
}

const shipmentRequest = (declarationReference: string): ScreenRequest => ({
  message: { case: "shipment", value: { declarationReference, exporter: "Acme Exports Ltd", destinationCountry: "HK" } },
});
const itemsRequest = (...imeis: string[]): ScreenRequest => ({ message: { case: "items", value: { items: imeis.map((deviceId) => ({ deviceId })) } } });

/** An open Screen stream fed by hand: `ended` settles with how the stream ended. */
function openScreen(client: Client<typeof FederationService>, declaration: string) {
  const requests = new AsyncQueue<ScreenRequest>();
  requests.push(shipmentRequest(declaration));
  const started = Date.now();
  let responses = 0;
  const ended = (async (): Promise<Outcome & { responses: number }> => {
    try {
      for await (const _ of client.screen(requests)) responses++;
      return { ms: Date.now() - started, responses };
    } catch (error) {
      if (!(error instanceof ImeifedError)) throw error;
      return { ms: Date.now() - started, error, responses };
    }
  })();
  return { requests, ended };
}

describe("overload: refused at once, never queued (real gateway and registries)", function () {
  this.timeout(30_000);
  let trust: TestTrust;
  const registries: TestRegistry[] = [];
  let gw: TestGateway;
  /** Partners whose admitted Lookups are held HOLD_MS. */
  const slow = new Set<string>();
  let held = 0;
  let mostHeld = 0;
  /** How long each refused call spent in the gateway, from its arrival to its refusal (ms). */
  const refusedAfter: number[] = [];
  /** How each Screen call ended in the gateway (the reason, or OK), in order. */
  const screensEnded: string[] = [];
  const observe: ServerInterceptor = async (ctx, next) => {
    const arrived = performance.now();
    try {
      await next();
      if (ctx.method === "Screen") screensEnded.push("OK");
    } catch (error) {
      if (error instanceof ImeifedError && error.code === Code.RESOURCE_EXHAUSTED) refusedAfter.push(performance.now() - arrived);
      if (ctx.method === "Screen") screensEnded.push(ImeifedError.from(error).reason);
      throw error;
    }
  };
  const hold: ServerInterceptor = async (ctx, next) => {
    const caller = ctx.values.get(CALLER);
    if (ctx.method !== "Lookup" || !caller || !slow.has(caller.principal.id)) return next();
    held++;
    mostHeld = Math.max(mostHeld, held);
    try {
      await sleep(HOLD_MS);
      return await next();
    } finally {
      held--;
    }
  };

  before(async () => {
    trust = await createTestTrust();
    for (const country of ["GB", "ES"]) registries.push(await startTestRegistry({ country, trust }));
    gw = await startTestGateway({
      trust,
      registries: registries.map((r) => ({ country: r.registry.country, address: r.registry.address })),
      config: { admission: LIMITS },
      outerInterceptors: [observe],
      innerInterceptors: [hold],
    });
  });
  after(async () => {
    await gw?.shutdown();
    for (const r of registries) await r.cleanup();
    await trust?.cleanup();
  });
  beforeEach(() => {
    slow.clear();
    mostHeld = 0;
    refusedAfter.length = 0;
  });

  const clients: Client<typeof FederationService>[] = [];
  afterEach(() => {
    for (const c of clients.splice(0)) c.close();
  });

  /**
   * A client of `principalId` on a connection of its own (as a partner on
   * another machine has: grpc-js would otherwise share one between clients),
   * already connected and with its token verified, so timings measure only
   * the calls.
   */
  async function warmClient(principalId: string): Promise<Client<typeof FederationService>> {
    const client = createClient(FederationService, gw.gateway.address, {
      metadata: trust.metadataFor(principalId, "gateway"),
      channelOptions: { "grpc.use_local_subchannel_pool": 1 },
    });
    clients.push(client);
    await client.lookup({ imei: freshImei(), purpose: "CASE-WARM" });
    return client;
  }

  it("answers a partner's calls up to its limit within their deadlines and refuses the rest at once, while another partner keeps being answered", async () => {
    const flooder = await warmClient("police-es");
    const partner = await warmClient("police-gb");
    slow.add("police-es");
    const deadlineMs = 5_000;
    const flood = Promise.all(Array.from({ length: 200 }, () => timed(() => flooder.lookup({ imei: freshImei(), purpose: "CASE-FLOOD" }, { deadline: deadlineMs }))));
    // The well-behaved partner asks one at a time, from the start of the flood.
    const partnerCalls: Outcome[] = [];
    while (partnerCalls.length < 10) partnerCalls.push(await timed(() => partner.lookup({ imei: freshImei(), purpose: "CASE-PARTNER" }, { deadline: deadlineMs })));
    const outcomes = await flood;

    const answered = outcomes.filter((o) => !o.error);
    const refused = outcomes.filter((o) => o.error);
    for (const o of refused) assertRefused(o, ADMISSION_REASON.callsInFlight);
    // Refused as soon as it arrived, far sooner than an admitted call is answered: none waited behind the admitted ones.
    assert.equal(refusedAfter.length, refused.length);
    const slowestRefusal = Math.max(...refusedAfter);
    assert.ok(slowestRefusal < HOLD_MS / 4, `a refusal spent ${slowestRefusal.toFixed(1)} ms in the gateway`);
    assert.ok(answered.length >= LIMITS.maxInFlightPerPrincipal, `${answered.length} answered`);
    assert.ok(refused.length >= 100, `${refused.length} refused of 200`);
    for (const o of answered) assert.ok(o.ms >= HOLD_MS && o.ms < deadlineMs, `an answered call took ${o.ms} ms`);
    // What the gateway held at once (and so the memory the flood could take) is the partner's limit.
    assert.equal(mostHeld, LIMITS.maxInFlightPerPrincipal);
    for (const o of partnerCalls) assert.equal(o.error, undefined, `the partner was refused: ${o.error?.message}`);
    // The partner's first answer came while the flood's admitted calls were still held: it did not wait behind them.
    assert.ok(partnerCalls[0]!.ms < Math.min(...answered.map((o) => o.ms)), `the partner's first Lookup took ${partnerCalls[0]!.ms} ms`);
  });

  it("refuses every caller at once when the whole gateway is at its limit", async () => {
    const clients = [await warmClient("police-es"), await warmClient("police-jp")];
    const third = await warmClient("police-br");
    slow.add("police-es").add("police-jp");
    const floods = clients.map((client) => {
      return Promise.all(Array.from({ length: 60 }, () => timed(() => client.lookup({ imei: freshImei(), purpose: "CASE-FLOOD" }, { deadline: 3_000 }))));
    });
    // Both floods hold their partners' 20 slots: the gateway's 40.
    await eventually("both floods holding their slots", () => mostHeld === LIMITS.maxInFlight, { timeoutMs: HOLD_MS / 2 });
    assertRefused(await timed(() => third.lookup({ imei: freshImei(), purpose: "CASE-THIRD" }, { deadline: 3_000 })), ADMISSION_REASON.serverBusy);
    for (const outcomes of await Promise.all(floods)) {
      for (const o of outcomes) if (o.error) assertRefused(o, ADMISSION_REASON.callsInFlight);
    }
  });

  it("refuses a partner's Screen streams past its limit at once, and admits one again when another ends", async () => {
    const customs = gw.client("customs-gb");
    const open = Array.from({ length: LIMITS.maxStreamsPerPrincipal }, (_, i) => openScreen(customs, `DEC-OPEN-${i}`));
    // Keep the admitted ones busy so that they do not end as idle meanwhile.
    const keepBusy = setInterval(() => open.forEach((s) => s.requests.push(itemsRequest(freshImei()))), 100);
    try {
      await sleep(200);
      const extra = await Promise.all(Array.from({ length: 6 }, (_, i) => openScreen(customs, `DEC-EXTRA-${i}`).ended));
      for (const o of extra) {
        assertRefused(o, ADMISSION_REASON.streamsOpen);
        assert.equal(o.responses, 0);
        assert.ok(o.ms < LIMITS.streamIdleMs, `a refusal took ${o.ms} ms`);
      }
      open[0]!.requests.end();
      const first = await open[0]!.ended;
      assert.equal(first.error, undefined, first.error?.message);
      const again = openScreen(customs, "DEC-AGAIN");
      again.requests.push(itemsRequest(freshImei()));
      again.requests.end();
      const outcome = await again.ended;
      assert.equal(outcome.error, undefined, outcome.error?.message);
    } finally {
      clearInterval(keepBusy);
      for (const s of open) s.requests.end();
      await Promise.all(open.map((s) => s.ended));
    }
  });

  it("ends a Screen stream whose caller sends nothing, and keeps one that keeps sending", async () => {
    const customs = gw.client("customs-gb");
    const silent = openScreen(customs, "DEC-SILENT");
    const busy = openScreen(customs, "DEC-BUSY");
    // Busy: an item every fifth of the idle limit for three times the limit, then the end.
    for (let i = 0; i < 15; i++) {
      busy.requests.push(itemsRequest(freshImei()));
      await sleep(LIMITS.streamIdleMs / 5);
    }
    busy.requests.end();
    const busyEnd = await busy.ended;
    assert.equal(busyEnd.error, undefined, busyEnd.error?.message);
    const silentEnd = await Promise.race([silent.ended, sleep(10_000).then(() => undefined)]);
    assert.ok(silentEnd, "the silent stream is still open after 10 s");
    assert.deepEqual([Code[silentEnd.error?.code ?? Code.OK], silentEnd.error?.reason], ["DEADLINE_EXCEEDED", ADMISSION_REASON.streamIdle]);
    assert.ok(silentEnd.ms >= LIMITS.streamIdleMs, `ended after ${silentEnd.ms} ms`);
    silent.requests.end();
  });

  it("ends a Screen stream whose caller stops reading its findings, and tells it so when it reads again", async () => {
    const customs = gw.client("customs-gb");
    const requests = new AsyncQueue<ScreenRequest>();
    requests.push(shipmentRequest("DEC-UNREAD"));
    // 100,000 malformed items: a finding each, several times what the transport holds unread.
    for (let b = 0; b < 100; b++) requests.push({ message: { case: "items", value: { items: Array.from({ length: 1_000 }, () => ({ deviceId: "not-an-imei" })) } } });
    requests.end();
    const endedBefore = screensEnded.length;
    const responses = customs.screen(requests)[Symbol.asyncIterator]();
    assert.equal((await responses.next()).done, false, "the screening started answering");
    // The caller reads nothing more until the gateway has ended the call, then reads on.
    const ended = await waitFor("the gateway to end the unread screening", () => screensEnded[endedBefore], { timeoutMs: 15_000 });
    assert.equal(ended, ADMISSION_REASON.streamIdle);
    let read = 1;
    const end = await (async (): Promise<ImeifedError | undefined> => {
      try {
        while (!(await responses.next()).done) read++;
        return undefined;
      } catch (error) {
        if (error instanceof ImeifedError) return error;
        throw error;
      }
    })();
    assert.deepEqual([Code[end?.code ?? Code.OK], end?.reason], ["DEADLINE_EXCEEDED", ADMISSION_REASON.streamIdle], `${read} responses read, then ${end?.message ?? "the end"}`);
    assert.ok(read < 100_000, `${read} responses`);
  });

  it("ends a Screen stream when the token it was opened with expires (past the clock tolerance)", async () => {
    // Issued 57 s ago for 30 s: expired 27 s ago, still inside the 30 s tolerance, so it ends within about 3 s.
    const token = await trust.token("customs-gb", { audience: "gateway", now: new Date(Date.now() - 57_000), ttlSec: 30 });
    const client = createClient(FederationService, gw.gateway.address, { metadata: () => ({ authorization: `Bearer ${token}` }) });
    try {
      const stream = openScreen(client, "DEC-EXPIRING");
      const keepBusy = setInterval(() => stream.requests.push(itemsRequest(freshImei())), 100);
      try {
        const end = await Promise.race([stream.ended, sleep(10_000).then(() => undefined)]);
        assert.ok(end, "the stream outlived its token by more than 10 s");
        assert.deepEqual([Code[end.error?.code ?? Code.OK], end.error?.reason], ["UNAUTHENTICATED", STREAM_EXPIRED], end.error?.message);
      } finally {
        clearInterval(keepBusy);
        stream.requests.end();
      }
    } finally {
      client.close();
    }
  });

  it("advertises the per-connection stream limit in HTTP/2 SETTINGS (gateway 100, registry 1,000 by default)", async () => {
    for (const [address, limit] of [
      [gw.gateway.address, 100],
      [registries[0]!.registry.address, 1_000],
    ] as const) {
      const session = connect(`http://${address}`);
      try {
        assert.equal(await settledStreamLimit(session, limit), limit);
      } finally {
        session.close();
      }
    }
  });

  it("shares the whole server's stream budget between its connections, and gives it back as they leave", async () => {
    const registry = await startTestRegistry({ country: "JP", trust, config: { admission: { maxConcurrentStreamsPerConnection: 8, maxConcurrentStreams: 16 } } });
    const sessions: ClientHttp2Session[] = [];
    try {
      const open = () => {
        const session = connect(`http://${registry.registry.address}`);
        session.on("error", () => undefined);
        sessions.push(session);
        return session;
      };
      // Two connections fit the budget at 8 each; a third makes the share 16 / 3, rounded down to a power of two.
      assert.equal(await settledStreamLimit(open(), 8), 8);
      assert.equal(await settledStreamLimit(open(), 8), 8);
      const third = open();
      for (const session of sessions) assert.equal(await settledStreamLimit(session, 4), 4);
      third.destroy();
      for (const session of sessions.slice(0, 2)) assert.equal(await settledStreamLimit(session, 8), 8);
    } finally {
      for (const session of sessions) session.destroy();
      await registry.cleanup();
    }
  });
});

/** Resolves to `want` once the server's SETTINGS_MAX_CONCURRENT_STREAMS for `session` is `want`; fails (naming what it is) otherwise. */
function settledStreamLimit(session: ClientHttp2Session, want: number): Promise<number> {
  const current = () => (session.remoteSettings as { maxConcurrentStreams?: number } | undefined)?.maxConcurrentStreams;
  return waitFor(`a stream limit of ${want} (it is ${current()})`, () => (current() === want ? want : undefined));
}

describe("overload: the registries' default limits leave a gateway's traffic alone", function () {
  this.timeout(60_000);
  let trust: TestTrust;
  const registries: TestRegistry[] = [];
  let gw: TestGateway;

  before(async () => {
    trust = await createTestTrust();
    for (const country of ["GB", "ES", "JP"]) registries.push(await startTestRegistry({ country, trust }));
    gw = await startTestGateway({ trust, registries: registries.map((r) => ({ country: r.registry.country, address: r.registry.address })) });
  });
  after(async () => {
    await gw?.shutdown();
    for (const r of registries) await r.cleanup();
    await trust?.cleanup();
  });

  it("sizes a registry's defaults for the most a gateway with its defaults sends one registry", () => {
    const gateway = gw.gateway.context.config;
    const registry = registries[0]!.registry.config.admission;
    // Unary calls: every screening the gateway admits keeps its chunks upstream, plus the batcher's calls and the tripwire's.
    const calls = gateway.admission.maxStreams * SCREENING_DEFAULTS.maxChunksInFlight + gateway.batching.maxInFlight + 1;
    // Streams: one CheckDevicesStream per requester up to the pool's bound, and the change stream.
    const streams = CHECK_STREAM_POOL_DEFAULTS.maxStreams + 1;
    assert.ok(calls <= registry.maxInFlightPerPrincipal, `${calls} calls vs ${registry.maxInFlightPerPrincipal}`);
    assert.ok(streams <= registry.maxStreamsPerPrincipal, `${streams} streams vs ${registry.maxStreamsPerPrincipal}`);
    // All of it travels on the gateway's one connection to the registry.
    assert.ok(calls + streams <= registry.maxConcurrentStreamsPerConnection, `${calls + streams} vs ${registry.maxConcurrentStreamsPerConnection} per connection`);
    // A CheckDevicesStream the gateway still holds is never ended as idle: the pool retires an unused one first (its sweep runs every third of its idle time).
    assert.ok(CHECK_STREAM_POOL_DEFAULTS.idleMs * (4 / 3) < registry.streamIdleMs);
  });

  it("answers a burst of partners' Lookups and screenings with every registry answering", async () => {
    const lookups = ["police-es", "police-gb", "customs-gb"].flatMap((id) => {
      const client = gw.client(id);
      return Array.from({ length: 100 }, () => client.lookup({ imei: freshImei(), purpose: `CASE-${id}` }, { deadline: 20_000 }));
    });
    const screenings = Array.from({ length: 6 }, async (_, s) => {
      const requests = new AsyncQueue<ScreenRequest>();
      requests.push(shipmentRequest(`DEC-BURST-${s}`));
      for (let b = 0; b < 3; b++) requests.push(itemsRequest(...Array.from({ length: 1_000 }, freshImei)));
      requests.end();
      let summary: ScreeningSummary | undefined;
      for await (const response of gw.client("customs-gb").screen(requests, { deadline: 30_000 })) {
        if (response.message.case === "summary") summary = response.message.value;
      }
      return summary;
    });
    for (const answer of await Promise.all(lookups)) {
      assert.deepEqual(answer.unanswered.map((u) => u.country), []);
      assert.equal(Verdict[answer.verdict], "PERMITTED");
    }
    for (const summary of await Promise.all(screenings)) {
      assert.ok(summary, "the screening ended with its summary");
      assert.equal(ScreeningDecision[summary.decision], "RELEASE");
    }
  });
});
