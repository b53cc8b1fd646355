/**
 * S13's part of `npm run bench` (issue 24): ME-Identity-Checks on one
 * Diameter connection at 64 in flight against the N5g-eir front's
 * GetEquipmentStatus on one h2c connection at 64 streams (h2load), both
 * asking the same gateway process (`imeifed gateway serve` with both fronts)
 * about the same listed device, so every check is a cache hit and the
 * figures compare the fronts, not the registries. Goal: S13 at least 1x the
 * N5g-eir rate (Diameter is cheaper to parse than HTTP/2 + JSON + a JWT).
 *
 * The S13 load comes from bench/s13-load.ts in its own process (a Node
 * client sharing the gateway's core would measure itself). Both fronts are
 * warmed first; then N5g-eir and S13 runs alternate (`rounds` each) and the
 * medians are compared. The gateway's CPU per check on each front is read
 * from /proc across each run.
 */
import { execFile } from "node:child_process";
import { connect as http2Connect } from "node:http2";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { RegistryService } from "../gen/imeifed/v1/registry_pb.js";
import { createClient } from "../rpc/index.js";
import { luhnCheckDigit } from "../device/index.js";
import { spawnGatewayProcess } from "../test/support/gateway-process.js";
import { reportRequest, spawnRegistryProcess, type RegistryProcess } from "../test/support/registry-fixture.js";
import { createTestTrust, DEFAULT_TEST_PRINCIPALS } from "../test/support/trust-fixture.js";
import { percentile, ratioFigure, type BenchFigure, type BenchSuite } from "./figure.js";
import { H2LOAD, runH2load } from "./h2load.js";
import { cpuSeconds } from "./process-cpu.js";

const run = promisify(execFile);
const IMEI = "35693803564380";
const MME = { originHost: "mme1.bench.example", originRealm: "bench.example" };
const IN_FLIGHT = 64;

export interface S13BenchOptions {
  /** Measured seconds of each run (default 8). */
  durationSec?: number;
  /** Runs of each front, alternating (default 3). */
  rounds?: number;
  /** Seconds each front is driven before anything is timed (default 10). */
  warmUpSec?: number;
}

const median = (xs: readonly number[]) => percentile(xs, 0.5);

export async function s13Suite(options: S13BenchOptions = {}): Promise<BenchSuite> {
  const { durationSec = 8, rounds = 3, warmUpSec = 10 } = options;
  const dir = await mkdtemp(join(tmpdir(), "imeifed-bench-s13-"));
  const trust = await createTestTrust([...DEFAULT_TEST_PRINCIPALS, { id: "operator-dz", kind: "operator", country: "DZ" }]);
  const registries: RegistryProcess[] = [];
  try {
    for (const country of ["GB", "ES"]) registries.push(await spawnRegistryProcess({ country, trust, db: { sqlite: join(dir, `${country}.sqlite`) } }));
    const gb = createClient(RegistryService, registries[0]!.address, { metadata: trust.metadataFor("police-gb", "registry-gb") });
    await gb.reportDevice(reportRequest({ imeis: [IMEI] }));
    gb.close();
    const gateway = await spawnGatewayProcess({
      trust,
      registries: registries.map((r, i) => ({ country: ["GB", "ES"][i]!, address: r.address })),
      config: {
        networks: {
          n5gEir: { listen: "127.0.0.1:0" },
          s13: { listen: "127.0.0.1:0", originHost: "eir.bench.example", originRealm: "bench.example", peers: [{ ...MME, principal: "operator-dz" }] },
        },
      },
    });
    try {
      const n5gUrl = `${String(gateway.serving.n5gEir)}/n5g-eir-eic/v1/equipment-status?pei=imei-${IMEI}${luhnCheckDigit(IMEI)}`;
      const s13Port = Number(String(gateway.serving.s13).split(":").pop());
      const token = await trust.token("operator-dz", { audience: "gateway", ttlSec: 3_600 });
      const n5g = async (seconds: number) => {
        const before = cpuSeconds(gateway.pid);
        const result = await runH2load({ url: n5gUrl, token, connections: 1, streams: IN_FLIGHT, durationSec: seconds, warmUpSec: 1, headers: [] });
        const cpu = cpuSeconds(gateway.pid) - before;
        const rate = /finished in [^,]+, ([\d.]+) req\/s/.exec(result.output);
        // Every answer must be a 200 (h2load's status counts leave out requests that straddle the warm-up's end).
        if (!rate || !/status codes: \d+ 2xx, 0 3xx, 0 4xx, 0 5xx/.test(result.output)) {
          throw new Error(`N5g-eir answers were not all 2xx; one of them: ${await probe(n5gUrl, token)}\n${result.output}`);
        }
        return { rate: Number(rate[1]), cpuPerCheckUs: (cpu / (result.done || 1)) * 1e6 };
      };
      const s13 = async (seconds: number) => {
        const before = cpuSeconds(gateway.pid);
        const { stdout } = await run(process.execPath, ["--import", "tsx", resolve(import.meta.dirname, "s13-load.ts"), String(s13Port), MME.originHost, MME.originRealm, IMEI, String(IN_FLIGHT), String(seconds), "1", "1"], { maxBuffer: 1 << 20 });
        const cpu = cpuSeconds(gateway.pid) - before;
        const out = JSON.parse(stdout.trim().split("\n").pop()!) as { answered: number; checksPerSecond: number; wrongSamples: number; cpuCores: number };
        if (out.wrongSamples > 0) throw new Error(`S13 answers were not 2001/BLACKLISTED: ${stdout}`);
        return { rate: out.checksPerSecond, cpuPerCheckUs: (cpu / (out.answered || 1)) * 1e6, loadCores: out.cpuCores };
      };
      await n5g(warmUpSec);
      await s13(warmUpSec);
      const n5gRuns: { rate: number; cpuPerCheckUs: number }[] = [];
      const s13Runs: { rate: number; cpuPerCheckUs: number; loadCores: number }[] = [];
      for (let i = 0; i < rounds; i++) {
        n5gRuns.push(await n5g(durationSec));
        s13Runs.push(await s13(durationSec));
      }
      const n5gRate = median(n5gRuns.map((r) => r.rate));
      const s13Rate = median(s13Runs.map((r) => r.rate));
      const rounded = (xs: number[]) => xs.map((x) => Math.round(x).toLocaleString("en")).join(", ");
      const figures: BenchFigure[] = [
        ratioFigure(
          `S13 ME-Identity-Check, cache hit, 64 in flight on one Diameter connection (median of ${rounds}: ${rounded(s13Runs.map((r) => r.rate))})`,
          s13Rate,
          "checks/s",
          { name: `N5g-eir GetEquipmentStatus, cache hit, 64 streams on one h2c connection (h2load), same gateway (median of ${rounds}: ${rounded(n5gRuns.map((r) => r.rate))})`, value: n5gRate, unit: "checks/s" },
          { text: ">= 1x the N5g-eir rate", met: (r) => r >= 1 },
        ),
        ratioFigure("gateway CPU per S13 check", median(s13Runs.map((r) => r.cpuPerCheckUs)), "µs", { name: "gateway CPU per N5g-eir check", value: median(n5gRuns.map((r) => r.cpuPerCheckUs)), unit: "µs" }),
        { name: "the S13 load generator (bench/s13-load.ts), CPU in cores", value: median(s13Runs.map((r) => r.loadCores)), unit: "cores" },
      ];
      return { suite: "s13", figures };
    } finally {
      await gateway.stop();
    }
  } finally {
    for (const r of registries) await r.stop();
    await trust.cleanup();
    await rm(dir, { recursive: true, force: true });
  }
}

/** One N5g-eir GET's status and body, for a failure message. */
function probe(url: string, token: string): Promise<string> {
  const { origin, pathname, search } = new URL(url);
  return new Promise((resolvePromise) => {
    const session = http2Connect(origin);
    session.on("error", (e) => resolvePromise(e.message));
    const request = session.request({ ":path": pathname + search, authorization: `Bearer ${token}` });
    let status = 0;
    let body = "";
    request.on("response", (headers) => (status = Number(headers[":status"])));
    request.setEncoding("utf8").on("data", (chunk: string) => (body += chunk));
    request.on("end", () => {
      session.close();
      resolvePromise(`${status} ${body}`);
    });
  });
}

/** The N5g-eir baseline's load generator (Debian's nghttp2-client). */
export const S13_BENCH_NEEDS = H2LOAD;
