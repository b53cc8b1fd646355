/**
 * The `eir` suite of `npm run bench` (issue 21): N5g-eir equipment checks
 * over h2c (GET with prior knowledge) against the same gateway's cache-hit
 * gRPC Lookup, both driven by h2load at 64 in flight (4 connections × 16
 * streams), alternating, after a warm-up of each. Goals: at least 0.8× the
 * Lookup's rate, and a p99 under 5 ms at 64 in flight.
 *
 * Five registries run as child processes; the gateway runs in this process
 * (as `imeifed gateway serve` would: one process, both fronts). Every
 * measured call is a cache hit: the device is not listed and its clean
 * answer stays cached for the run. h2load's per-request log gives each
 * run's latencies and, for the N5g-eir runs, every answer's HTTP status (a
 * gRPC refusal is an HTTP 200, so the Lookup's are counted by an outer
 * interceptor instead).
 */
import { mkdtemp } from "node:fs/promises";
import { existsSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import { LookupRequestSchema } from "../gen/imeifed/v1/federation_pb.js";
import type { ServerInterceptor } from "../rpc/index.js";
import { spawnRegistryProcess, type RegistryProcess } from "../test/support/registry-fixture.js";
import { createTestTrust, DEFAULT_TEST_PRINCIPALS } from "../test/support/trust-fixture.js";
import { startTestGateway } from "../test/gateway/support/test-gateway.js";
import { mean, percentile, ratioFigure, round2, type BenchFigure, type BenchSuite } from "./figure.js";
import { H2LOAD, loggedLatenciesMs, loggedStatuses, runH2load, writeGrpcFrame, type H2loadRun } from "./h2load.js";

const COUNTRIES = ["GB", "ES", "JP", "BR", "US"];
const IMEI = "356938035643809";
const POLICE = "police-es";
const OPERATOR = "operator-hk";

export interface EirBenchOptions {
  /** Measured seconds of each run (default 6), after a 1 s warm-up of the run. */
  durationSec?: number;
  /** Rounds of Lookup then N5g-eir (default 2). */
  rounds?: number;
  /** Calls that warm each path of a fresh gateway before anything is timed (default 80,000). */
  warmUpCalls?: number;
}

interface Measured {
  rate: number;
  p99: number;
  failed: number;
}



export async function eirSuite(options: EirBenchOptions = {}): Promise<BenchSuite> {
  const durationSec = options.durationSec ?? 6;
  const rounds = options.rounds ?? 2;
  const warmUpCalls = options.warmUpCalls ?? 80_000;
  if (!existsSync(H2LOAD)) throw new Error(`the eir suite needs h2load at ${H2LOAD}: apt-get install nghttp2-client`);
  const dir = await mkdtemp(join(tmpdir(), "imeifed-bench-eir-"));
  const trust = await createTestTrust([...DEFAULT_TEST_PRINCIPALS, { id: OPERATOR, kind: "operator", country: "HK" }]);
  const registries: RegistryProcess[] = [];
  let lookupFailures = 0;
  const countFailures: ServerInterceptor = async (_ctx, next) => {
    try {
      return await next();
    } catch (error) {
      lookupFailures++;
      throw error;
    }
  };
  try {
    for (const country of COUNTRIES) registries.push(await spawnRegistryProcess({ country, trust, db: { sqlite: join(dir, `${country.toLowerCase()}.sqlite`) } }));
    const { gateway, client, shutdown } = await startTestGateway({
      trust,
      registries: registries.map((r, i) => ({ country: COUNTRIES[i]!, address: r.address })),
      config: { cache: { unlistedTtlMs: 3_600_000 }, networks: { n5gEir: { listen: "127.0.0.1:0" } } },
      outerInterceptors: [countFailures],
    });
    try {
      const answer = await client(POLICE).lookup({ imei: IMEI, purpose: "bench" });
      if (answer.unanswered.length > 0) throw new Error(`the warm-up Lookup was not answered by every registry: ${answer.unanswered.map((u) => u.country).join(", ")}`);
      const body = join(dir, "lookup.grpc");
      writeGrpcFrame(body, toBinary(LookupRequestSchema, create(LookupRequestSchema, { imei: IMEI, purpose: "bench" })));
      const lookupLoad: Omit<H2loadRun, "durationSec"> = {
        url: `http://${gateway.address}/imeifed.v1.FederationService/Lookup`,
        body,
        token: await trust.token(POLICE, { audience: "gateway", ttlSec: 3_600 }),
        connections: 4,
        streams: 16,
      };
      const eirLoad: Omit<H2loadRun, "durationSec"> = {
        url: `${gateway.networks.n5gEir!.url}/n5g-eir-eic/v1/equipment-status?pei=imei-${IMEI}`,
        token: await trust.token(OPERATOR, { audience: "gateway", ttlSec: 3_600 }),
        connections: 4,
        streams: 16,
      };
      for (const [name, load] of [["Lookup", lookupLoad], ["N5g-eir", eirLoad]] as const) {
        const warmed = await runH2load({ ...load, requests: warmUpCalls });
        console.error(`eir: warmed ${name} with ${warmed.done} calls`);
      }

      const measure = async (load: Omit<H2loadRun, "durationSec">, label: string, countStatuses: boolean): Promise<Measured> => {
        const logFile = join(dir, `${label}.log`);
        const failedBefore = lookupFailures;
        const result = await runH2load({ ...load, durationSec, warmUpSec: 1, logFile });
        const latencies = loggedLatenciesMs(logFile);
        const statuses = loggedStatuses(logFile);
        // A request still in flight when h2load's duration ends is logged without an HTTP status: not an answer, not a failure.
        const failed = countStatuses ? [...statuses].filter(([s]) => /^[1-5]\d\d$/.test(s) && s !== "200").reduce((n, [, c]) => n + c, 0) : lookupFailures - failedBefore;
        const measured = { rate: result.done / durationSec, p99: percentile(latencies, 0.99), failed };
        console.error(`eir: ${label}: ${Math.round(measured.rate)} calls/s, p99 ${round2(measured.p99)} ms, ${failed} failed${countStatuses ? ` (HTTP statuses: ${[...statuses].map(([s, n]) => `${s}×${n}`).join(", ")})` : ""}`);
        return measured;
      };
      const lookups: Measured[] = [];
      const checks: Measured[] = [];
      for (let r = 0; r < rounds; r++) {
        lookups.push(await measure(lookupLoad, `lookup-${r}`, false));
        checks.push(await measure(eirLoad, `n5g-eir-${r}`, true));
      }
      const failures = [...lookups, ...checks].reduce((n, m) => n + m.failed, 0);
      if (failures > 0) throw new Error(`${failures} calls failed during the measured runs`);
      return { suite: "eir", figures: figuresOf(lookups, checks) };
    } finally {
      await shutdown();
    }
  } finally {
    for (const r of registries) await r.stop();
    await trust.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

function figuresOf(lookups: Measured[], checks: Measured[]): BenchFigure[] {
  const eirP99 = Math.max(...checks.map((m) => m.p99));
  return [
    ratioFigure(
      "N5g-eir checks over h2c, 64 in flight (h2load, 4 connections × 16 streams, cache hits)",
      Math.round(mean(checks.map((m) => m.rate))),
      "checks/s",
      { name: "cache-hit gRPC Lookup on the same gateway, 64 in flight (h2load)", value: Math.round(mean(lookups.map((m) => m.rate))), unit: "calls/s" },
      { text: ">= 0.8x", met: (r) => r >= 0.8 },
    ),
    {
      ...ratioFigure("N5g-eir check p99 at 64 in flight, as h2load saw it", round2(eirP99), "ms", {
        name: "cache-hit gRPC Lookup p99 at 64 in flight",
        value: round2(Math.max(...lookups.map((m) => m.p99))),
        unit: "ms",
      }),
      goal: "< 5 ms",
      met: eirP99 < 5,
    },
  ];
}
