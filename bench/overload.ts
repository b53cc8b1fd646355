/**
 * Overload's part of `npm run bench` (issue 18): cache-hit Lookups from one
 * partner with 20,000 calls in flight (h2load, 200 connections × 100 streams,
 * as an overloaded partner's client does) against the same gateway at 64 in
 * flight, with the gateway's default admission limits. Goals: goodput (calls
 * answered OK per second) at least 0.8× the 64-in-flight goodput; a
 * well-behaved partner's Lookups during the flood answered with p99 under
 * 100 ms; the flood's excess refused within 10 ms of reaching the gateway.
 *
 * The gateway runs in this process, so an outer interceptor counts answered
 * and refused calls and times them from their arrival (h2load cannot: a
 * refusal is an HTTP 200 too). The well-behaved partner is a second, small
 * h2load run of another principal: one connection, one call at a time, 50 a
 * second, whose per-request log gives the latency percentiles. The baseline
 * and the flood alternate (two rounds each) after a warm-up of 80,000 calls
 * (a fresh gateway's compilers settle after about that many). Two registries
 * run as child processes; every measured call is a cache hit.
 */
import { mkdtemp } from "node:fs/promises";
import { existsSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { create, toBinary } from "@bufbuild/protobuf";
import { LookupRequestSchema } from "../gen/imeifed/v1/federation_pb.js";
import { Code, ImeifedError } from "../errors/index.js";
import type { ServerInterceptor } from "../rpc/index.js";
import { CALLER } from "../trust/principal.js";
import { spawnRegistryProcess, type RegistryProcess } from "../test/support/registry-fixture.js";
import { createTestTrust } from "../test/support/trust-fixture.js";
import { startTestGateway } from "../test/gateway/support/test-gateway.js";
import { mean, percentile, ratioFigure, round2, type BenchFigure, type BenchSuite } from "./figure.js";
import { H2LOAD, loggedLatenciesMs, runH2load, startH2load, writeGrpcFrame, type H2loadRun } from "./h2load.js";
import { cpuSeconds } from "./process-cpu.js";

const COUNTRIES = ["GB", "ES"];
const IMEI = "356938035643809";
const FLOODER = "police-es";
const PARTNER = "police-gb";

export interface OverloadBenchOptions {
  /** The flood's connections and streams per connection (default 200 × 100: 20,000 in flight). */
  floodConnections?: number;
  floodStreams?: number;
  /** Measured seconds of each run (default 6), after a 2 s warm-up of the run. */
  durationSec?: number;
  /** Rounds of baseline then flood (default 2). */
  rounds?: number;
  /** Calls that warm a fresh gateway before anything is timed (default 80,000). */
  warmUpCalls?: number;
  /** Admission limits to set instead of the gateway's defaults (to compare settings). */
  admission?: Record<string, number>;
}

/** What the gateway did in a window, counted by its outermost interceptor. */
class Tally {
  counting = false;
  answered = 0;
  refused = 0;
  /** Other failures (none expected). */
  failed = 0;
  partnerRefused = 0;
  /** Milliseconds from arrival to answer, and to refusal (a sample of at most 200,000 each). */
  readonly answerMs: number[] = [];
  readonly refusalMs: number[] = [];

  readonly interceptor: ServerInterceptor = async (ctx, next) => {
    if (!this.counting) return next();
    const arrived = performance.now();
    try {
      await next();
      this.answered++;
      if (this.answerMs.length < 200_000) this.answerMs.push(performance.now() - arrived);
    } catch (error) {
      if (error instanceof ImeifedError && error.code === Code.RESOURCE_EXHAUSTED) {
        this.refused++;
        if (this.refusalMs.length < 200_000) this.refusalMs.push(performance.now() - arrived);
        if (ctx.values.get(CALLER)?.principal.id === PARTNER) this.partnerRefused++;
      } else this.failed++;
      throw error;
    }
  };

  reset(): void {
    this.answered = this.refused = this.failed = this.partnerRefused = 0;
    this.answerMs.length = this.refusalMs.length = 0;
  }
}



/** One measured run: a load (and the partner beside it) while the tally counts a window inside it. */
interface Measured {
  goodput: number;
  answered: number;
  refused: number;
  failed: number;
  partnerRefused: number;
  answerP99: number;
  refusalP99: number;
  partnerLatencies: number[];
  /** The load's own calls as h2load saw them (answers and refusals alike), p99 (ms). */
  loadP99: number;
  peakRssBytes: number;
  /** Cores used in the window by the gateway's process and by the load generator. */
  gatewayCores: number;
  loadCores: number;
  /** The gateway's event-loop delay in the window, p99 (ms): how long any ready call waited for its turn. */
  loopDelayP99: number;
}

export async function overloadSuite(options: OverloadBenchOptions = {}): Promise<BenchSuite> {
  const floodConnections = options.floodConnections ?? 200;
  const floodStreams = options.floodStreams ?? 100;
  const durationSec = options.durationSec ?? 6;
  const rounds = options.rounds ?? 2;
  if (!existsSync(H2LOAD)) throw new Error(`the overload suite needs h2load at ${H2LOAD}: apt-get install nghttp2-client`);
  const dir = await mkdtemp(join(tmpdir(), "imeifed-bench-overload-"));
  const trust = await createTestTrust();
  const registries: RegistryProcess[] = [];
  const tally = new Tally();
  try {
    for (const country of COUNTRIES) registries.push(await spawnRegistryProcess({ country, trust, db: { sqlite: join(dir, `${country.toLowerCase()}.sqlite`) } }));
    const { gateway, client, shutdown } = await startTestGateway({
      trust,
      registries: registries.map((r, i) => ({ country: COUNTRIES[i]!, address: r.address })),
      // The device's clean answer stays cached for the whole run: every measured call is a hit.
      config: { cache: { unlistedTtlMs: 3_600_000 }, ...(options.admission ? { admission: options.admission } : {}) },
      outerInterceptors: [tally.interceptor],
    });
    try {
      for (const id of [FLOODER, PARTNER]) {
        const answer = await client(id).lookup({ imei: IMEI, purpose: "bench" });
        if (answer.unanswered.length > 0) throw new Error(`the warm-up Lookup was not answered by every registry: ${answer.unanswered.map((u) => u.country).join(", ")}`);
      }
      const body = join(dir, "lookup.grpc");
      writeGrpcFrame(body, toBinary(LookupRequestSchema, create(LookupRequestSchema, { imei: IMEI, purpose: "bench" })));
      const url = `http://${gateway.address}/imeifed.v1.FederationService/Lookup`;
      const tokens = { flooder: await trust.token(FLOODER, { audience: "gateway", ttlSec: 3_600 }), partner: await trust.token(PARTNER, { audience: "gateway", ttlSec: 3_600 }) };
      const baselineLoad = { url, body, token: tokens.flooder, connections: 4, streams: 16 };
      const floodLoad = { url, body, token: tokens.flooder, connections: floodConnections, streams: floodStreams };

      const warmUpCalls = options.warmUpCalls ?? 80_000;
      const warmUp = await runH2load({ ...baselineLoad, requests: warmUpCalls });
      console.error(`overload: warmed the gateway with ${warmUp.done} calls`);

      /** Runs `load` for its warm-up and `durationSec`, the partner beside it, counting the window of `durationSec` inside. */
      const measure = async (load: Omit<H2loadRun, "durationSec">, label: string): Promise<Measured> => {
        const warmUpSec = 2;
        const logFile = join(dir, `partner-${label}.log`);
        const loadLogFile = join(dir, `load-${label}.log`);
        let peakRssBytes = 0;
        const loadRun = startH2load({ ...load, durationSec: durationSec + 1, warmUpSec, logFile: loadLogFile });
        await sleep(warmUpSec * 1_000);
        const partnerRun = runH2load({ url, body, token: tokens.partner, connections: 1, streams: 1, rps: 50, durationSec, logFile });
        tally.reset();
        tally.counting = true;
        const started = performance.now();
        const cpu = { gateway: process.cpuUsage(), load: cpuSeconds(loadRun.pid) };
        const sampler = setInterval(() => (peakRssBytes = Math.max(peakRssBytes, process.memoryUsage().rss)), 100);
        const loopDelay = monitorEventLoopDelay({ resolution: 5 });
        loopDelay.enable();
        await sleep(durationSec * 1_000);
        tally.counting = false;
        clearInterval(sampler);
        loopDelay.disable();
        const seconds = (performance.now() - started) / 1_000;
        const gatewayCpu = process.cpuUsage(cpu.gateway);
        const measured = {
          gatewayCores: (gatewayCpu.user + gatewayCpu.system) / 1e6 / seconds,
          loadCores: (cpuSeconds(loadRun.pid) - cpu.load) / seconds,
          loopDelayP99: loopDelay.percentile(99) / 1e6,
          goodput: tally.answered / seconds,
          answered: tally.answered,
          refused: tally.refused,
          failed: tally.failed,
          partnerRefused: tally.partnerRefused,
          answerP99: percentile(tally.answerMs, 0.99),
          refusalP99: percentile(tally.refusalMs, 0.99),
          peakRssBytes,
        };
        await Promise.all([loadRun.done, partnerRun]);
        const partnerLatencies = loggedLatenciesMs(logFile);
        const loadP99 = percentile(loggedLatenciesMs(loadLogFile), 0.99);
        console.error(
          `overload: ${label}: ${Math.round(measured.goodput)} answered/s, ${measured.refused} refused, partner p99 ${round2(percentile(partnerLatencies, 0.99))} ms over ${partnerLatencies.length} calls; cores: gateway ${round2(measured.gatewayCores)}, h2load ${round2(measured.loadCores)}; event-loop delay p99 ${round2(measured.loopDelayP99)} ms`,
        );
        return { ...measured, partnerLatencies, loadP99 };
      };

      const baseline: Measured[] = [];
      const flood: Measured[] = [];
      for (let r = 0; r < rounds; r++) {
        baseline.push(await measure(baselineLoad, `baseline-${r}`));
        flood.push(await measure(floodLoad, `flood-${r}`));
      }
      const failures = [...baseline, ...flood].reduce((n, m) => n + m.failed, 0);
      if (failures > 0) throw new Error(`${failures} calls failed with something other than a refusal`);
      return { suite: "overload", figures: figuresOf(baseline, flood, floodConnections, floodStreams) };
    } finally {
      await shutdown();
    }
  } finally {
    for (const r of registries) await r.stop();
    await trust.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}


function figuresOf(baseline: Measured[], flood: Measured[], connections: number, streams: number): BenchFigure[] {
  const inFlight = (connections * streams).toLocaleString("en");
  const baseGoodput = mean(baseline.map((m) => m.goodput));
  const floodGoodput = mean(flood.map((m) => m.goodput));
  const partnerBase = percentile(baseline.flatMap((m) => m.partnerLatencies), 0.99);
  const partnerFlood = percentile(flood.flatMap((m) => m.partnerLatencies), 0.99);
  const refusalP99 = Math.max(...flood.map((m) => m.refusalP99));
  const answerP99 = Math.max(...baseline.map((m) => m.answerP99));
  const refused = flood.reduce((n, m) => n + m.refused, 0);
  const refusedShare = Math.round((100 * refused) / Math.max(1, refused + flood.reduce((n, m) => n + m.answered, 0)));
  const partnerRefused = flood.reduce((n, m) => n + m.partnerRefused, 0);
  return [
    ratioFigure(
      `cache-hit Lookup goodput, ${inFlight} in flight from one partner (h2load, ${connections} connections × ${streams} streams)`,
      Math.round(floodGoodput),
      "calls/s",
      { name: "the same gateway, 64 in flight (4 connections × 16 streams)", value: Math.round(baseGoodput), unit: "calls/s" },
      { text: ">= 0.8x", met: (r) => r >= 0.8 },
    ),
    {
      ...ratioFigure(`another partner's Lookups during the flood (1 at a time, 50/s), p99${partnerRefused > 0 ? ` (${partnerRefused} of its calls refused)` : ""}`, round2(partnerFlood), "ms", {
        name: "the same partner beside the 64-in-flight load, p99",
        value: round2(partnerBase),
        unit: "ms",
      }),
      goal: "< 100 ms",
      met: partnerFlood < 100 && partnerRefused === 0,
    },
    refused > 0
      ? {
          ...ratioFigure(`the flood's excess: arrival to refusal in the gateway, p99 (${refused.toLocaleString("en")} refused, ${refusedShare}% of the flood's calls)`, round2(refusalP99), "ms", {
            name: "arrival to answer of a cache-hit Lookup at 64 in flight, p99",
            value: round2(answerP99),
            unit: "ms",
          }),
          goal: "< 10 ms",
          met: refusalP99 < 10,
        }
      : { name: "the flood's excess: none reached the gateway to be refused (each connection's SETTINGS share kept it in the client)", value: 0, unit: "calls refused" },
    ratioFigure("the flood's own calls on the wire as h2load saw them, p99", round2(Math.max(...flood.map((m) => m.loadP99))), "ms", {
      name: "the 64-in-flight load's, p99",
      value: round2(Math.max(...baseline.map((m) => m.loadP99))),
      unit: "ms",
    }),
    ratioFigure("the gateway's event-loop delay during the flood, p99 (how long a ready call waits for its turn)", round2(Math.max(...flood.map((m) => m.loopDelayP99))), "ms", {
      name: "during the 64-in-flight load",
      value: round2(Math.max(...baseline.map((m) => m.loopDelayP99))),
      unit: "ms",
    }),
    ratioFigure("the flood's load generator (h2load), CPU in cores", round2(mean(flood.map((m) => m.loadCores))), "cores", {
      name: "the gateway's process during the flood",
      value: round2(mean(flood.map((m) => m.gatewayCores))),
      unit: "cores",
    }),
    ratioFigure("gateway peak RSS during the flood", Math.max(...flood.map((m) => m.peakRssBytes)), "bytes", {
      name: "during the 64-in-flight load",
      value: Math.max(...baseline.map((m) => m.peakRssBytes)),
      unit: "bytes",
    }),
  ];
}
