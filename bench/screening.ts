/**
 * Screening's part of `npm run bench` (issue 7): a 1,000,000-item manifest
 * screened through a real gateway against 5 real registries holding 1,000,000
 * listed devices between them, with a cold cache and then a warm one, in items
 * per second, with the gateway's peak memory; and, as the ceiling, the same
 * items checked by direct in-process lookups in the same five stores. Goals:
 * cold ≥ 1/4 of the ceiling, warm ≥ 1/2. One more figure says where the cold
 * run's time goes: the same registry questions sent straight to the five
 * registries, without the gateway (the gateway's share is the difference).
 *
 * Registries and the gateway run as child processes (as in production); this
 * process only sends the pre-encoded manifest over one raw Screen stream, so
 * the load generator costs the gateway almost nothing. The registries are
 * seeded through the store's bulk import (`importReports`) before they start.
 *
 * Settings (reported with the figures): the gateway's upstream batch limit is
 * 10,000 devices (its default and the registries'), and its cache could
 * hold every answer of the run (1.1M entries, clean answers kept 10 minutes).
 * Listed answers go to the LRU and clean ones to the compact clean-answer
 * table (gateway/README.md), so the warm run is answered from the gateway's
 * cache without asking the registries (their CPU in the warm run is ~0).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { Client as GrpcClient, credentials, Metadata } from "@grpc/grpc-js";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { luhnCheckDigit, parseDevice, type DeviceKey } from "../device/index.js";
import { CheckDevicesRequestSchema } from "../gen/imeifed/v1/registry_pb.js";
import {
  LookupRequestSchema,
  LookupResponseSchema,
  ScreeningOutcome,
  ScreenRequestSchema,
  ScreenResponseSchema,
  UnansweredPolicy,
  type ScreeningSummary,
} from "../gen/imeifed/v1/federation_pb.js";
import { DEFAULT_CHANNEL_OPTIONS } from "../rpc/index.js";
import type { ImportRow, RegistryStore } from "../services/registry/store/registry-store.js";
import { openSqliteStore } from "../services/registry/store/sqlite-store.js";
import { spawnRegistryProcess, type RegistryProcess } from "../test/support/registry-fixture.js";
import { createTestTrust } from "../test/support/trust-fixture.js";
import { ratioFigure, type BenchFigure, type BenchSuite } from "./figure.js";
import { cpuSeconds } from "./process-cpu.js";
import { storeReport } from "../test/support/registry-fixture.js";

const COUNTRIES = ["GB", "ES", "JP", "BR", "US"];
const CLI = resolve(import.meta.dirname, "../cli/bin.js");
const SCREEN = "/imeifed.v1.FederationService/Screen";
const LOOKUP = "/imeifed.v1.FederationService/Lookup";
const CHECK_DEVICES = "/imeifed.v1.RegistryService/CheckDevices";

export interface ScreeningBenchOptions {
  /** Manifest items (default 1,000,000). */
  items?: number;
  /** Listed devices across the five registries (default 1,000,000). */
  listed?: number;
  /** Share of manifest items that are listed somewhere (default 0.001: 1,000 findings). */
  hitRate?: number;
  /** Items per Screen message (default 1,000). */
  batch?: number;
  /** The gateway's upstream batch limit (default 10,000). */
  upstreamBatchLimit?: number;
  /** Where progress lines go (default: stderr). */
  log?: (line: string) => void;
  /** Node flags for the gateway process (for example --cpu-prof, to see where its time goes). */
  gatewayNodeArgs?: string[];
}

/** One round: a fresh gateway's cold and warm screening of the round's own manifest, and the in-process ceiling right after. */
export interface ScreeningRound {
  coldItemsPerSecond: number;
  warmItemsPerSecond: number;
  ceilingItemsPerSecond: number;
  findings: { cold: number; warm: number };
}

/** What one run measured (the suite turns it into figures). */
export interface ScreeningBenchResult {
  items: number;
  listed: number;
  seedRowsPerSecond: number;
  /** In the order they ran. */
  rounds: ScreeningRound[];
  /** The last round's registry questions answered without the gateway (items/s: each item asked of all five), and that round's ceiling. */
  registriesAloneItemsPerSecond: number;
  registriesAloneCeilingItemsPerSecond: number;
  /** Peak resident memory of a gateway process after its cold run, and after its warm run (it includes the full cache): the largest of the rounds. */
  gatewayPeakRssColdBytes: number;
  gatewayPeakRssWarmBytes: number;
}

/**
 * Rounds of the whole measurement. The machine is shared, and its speed moves
 * over seconds (the ceiling alone read 0.6M to 0.9M items/s within an hour,
 * and back-to-back passes of it differ by up to ~25%), so each round's ratio
 * takes the fastest of three ceiling passes measured right after its runs, and
 * the figures are the round with the median ratio.
 */
const ROUNDS = 3;
/** Passes of the in-process ceiling after each round's runs (the fastest counts). */
const CEILING_PASSES = 3;

/** The round whose `ratio` is the median of the rounds'. */
export function medianRound(rounds: readonly ScreeningRound[], ratio: (r: ScreeningRound) => number): ScreeningRound {
  const sorted = [...rounds].sort((a, b) => ratio(a) - ratio(b));
  return sorted[Math.floor((sorted.length - 1) / 2)]!;
}

/** The body of the n-th listed device of registry `r` (one TAC per registry). */
function listedBody(r: number, n: number): string {
  return `3569381${r}${String(n).padStart(6, "0")}`;
}

/**
 * Item i of round `round`'s manifest, or of its warm-up shipment: every
 * `hitEvery`-th is listed in some registry (each round its own ones; the
 * warm-up's from the other end of each registry's range, so none is a
 * manifest's); the rest carry a TAC no registry lists (each round and
 * shipment its own).
 */
function benchImei(shipment: "manifest" | "warm-up", i: number, hitEvery: number, perRegistry: number, round: number, items: number): string {
  let body: string;
  if (i % hitEvery === 0) {
    const k = i / hitEvery + round * Math.ceil(items / hitEvery);
    const n = Math.floor(k / COUNTRIES.length) % perRegistry;
    body = listedBody(k % COUNTRIES.length, shipment === "manifest" ? n : perRegistry - 1 - n);
  } else {
    const tac = shipment === "manifest" ? "86" : "87";
    body = `${tac}${String(100_000 + round * 1_000 + Math.floor(i / 1_000_000)).padStart(6, "0")}${String(i % 1_000_000).padStart(6, "0")}`;
  }
  return body + String(luhnCheckDigit(body));
}

async function* seedRows(r: number, count: number): AsyncGenerator<ImportRow> {
  const agency = `police-${COUNTRIES[r]!.toLowerCase()}`;
  for (let n = 0; n < count; n++) {
    yield {
      line: n + 2,
      report: storeReport(listedBody(r, n), { agency, caseReference: `BENCH-${COUNTRIES[r]}-${n}`, sourceReasonCode: "0011", make: "Acme", model: "Phone", crimeReference: `CR/${n}` }),
    };
  }
}


/** Peak resident set size of a process (Linux /proc VmHWM), in bytes; 0 where unavailable. */
function peakRss(pid: number): number {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) * 1024 : 0;
  } catch {
    return 0;
  }
}

interface Child {
  readonly process: ChildProcess;
  readonly address: string;
  stop(): Promise<void>;
}

async function spawnGateway(configFile: string, nodeArgs: readonly string[] = []): Promise<Child> {
  const child = spawn(process.execPath, [...nodeArgs, CLI, "gateway", "serve", "--config", configFile], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (c: string) => (stderr = (stderr + c).slice(-20_000)));
  const exited = once(child, "exit");
  const address = await new Promise<string>((resolveAddress, reject) => {
    createInterface({ input: child.stdout! }).on("line", (line) => {
      try {
        const message = JSON.parse(line) as { msg?: string; address?: string };
        if (message.msg === "gateway serving" && message.address) resolveAddress(message.address);
      } catch {
        // not JSON
      }
    });
    void exited.then(() => reject(new Error(`the gateway exited before serving:\n${stderr}`)));
  });
  return {
    process: child,
    address,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill("SIGTERM");
      const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** One Screen stream of pre-encoded requests on a raw grpc-js call, honouring back-pressure; resolves to the summary and findings. */
function screenRaw(client: GrpcClient, metadata: Metadata, requests: readonly Buffer[]): Promise<{ summary: ScreeningSummary; findings: number }> {
  return new Promise((resolveRun, reject) => {
    const call = client.makeBidiStreamRequest(SCREEN, (b: Buffer) => b, (b: Buffer) => b, metadata, {});
    let summary: ScreeningSummary | undefined;
    let findings = 0;
    call.on("data", (bytes: Buffer) => {
      const response = fromBinary(ScreenResponseSchema, bytes);
      if (response.message.case === "finding") findings++;
      else if (response.message.case === "summary") summary = response.message.value;
    });
    call.on("error", reject);
    call.on("end", () => (summary ? resolveRun({ summary, findings }) : reject(new Error("the screening ended without a summary"))));
    void (async () => {
      for (const request of requests) {
        if (!call.write(request)) await once(call, "drain");
      }
      call.end();
    })().catch(reject);
  });
}

/** The Screen requests of a shipment: the Shipment, then the items `batch` a message (encoded once, before any timing). */
function screenRequests(declarationReference: string, imeis: readonly string[], batch: number): Buffer[] {
  const shipment = create(ScreenRequestSchema, { message: { case: "shipment", value: { declarationReference, destinationCountry: "HK", onUnanswered: UnansweredPolicy.HOLD } } });
  const requests = [Buffer.from(toBinary(ScreenRequestSchema, shipment))];
  for (let start = 0; start < imeis.length; start += batch) {
    const list = imeis.slice(start, start + batch).map((deviceId, k) => ({ deviceId, lineReference: String(start + k + 1) }));
    requests.push(Buffer.from(toBinary(ScreenRequestSchema, create(ScreenRequestSchema, { message: { case: "items", value: { items: list } } }))));
  }
  return requests;
}

/**
 * Asks each registry about every item, as the gateway's cold screening does
 * (sparse CheckDevices of `batch` IMEIs, 4 calls in flight per registry), from
 * this process; resolves to the wall time and the registries' CPU.
 */
async function askRegistriesDirectly(registries: readonly RegistryProcess[], trust: Awaited<ReturnType<typeof createTestTrust>>, imeis: readonly string[], batch: number): Promise<{ seconds: number; registryCpu: number }> {
  const requests: Buffer[] = [];
  for (let start = 0; start < imeis.length; start += batch) {
    requests.push(Buffer.from(toBinary(CheckDevicesRequestSchema, create(CheckDevicesRequestSchema, { imeis: imeis.slice(start, start + batch), purpose: "BENCH-DEC-1", listedOnly: true }))));
  }
  const links = await Promise.all(
    registries.map(async (registry, r) => {
      const metadata = new Metadata();
      metadata.set("authorization", (await trust.metadataFor("gateway", `registry-${COUNTRIES[r]!.toLowerCase()}`)()).authorization);
      return { client: new GrpcClient(registry.address, credentials.createInsecure(), DEFAULT_CHANNEL_OPTIONS), metadata };
    }),
  );
  const ask = (r: number, request: Buffer) =>
    new Promise<void>((resolveCall, reject) =>
      links[r]!.client.makeUnaryRequest(CHECK_DEVICES, (b: Buffer) => b, (b: Buffer) => b, request, links[r]!.metadata, { deadline: Date.now() + 60_000 }, (error) => (error ? reject(error) : resolveCall())),
    );
  try {
    const cpuBefore = registries.reduce((sum, r) => sum + cpuSeconds(r.pid), 0);
    const started = process.hrtime.bigint();
    await Promise.all(
      registries.map(async (_, r) => {
        let next = 0;
        await Promise.all(Array.from({ length: 4 }, async () => {
          while (next < requests.length) await ask(r, requests[next++]!);
        }));
      }),
    );
    return { seconds: Number(process.hrtime.bigint() - started) / 1e9, registryCpu: registries.reduce((sum, r) => sum + cpuSeconds(r.pid), 0) - cpuBefore };
  } finally {
    for (const link of links) link.client.close();
  }
}

/** Runs the benchmark; see the module comment. */
export async function benchScreening(options: ScreeningBenchOptions = {}): Promise<ScreeningBenchResult> {
  const items = options.items ?? 1_000_000;
  const listed = options.listed ?? 1_000_000;
  const hitEvery = Math.max(1, Math.round(1 / (options.hitRate ?? 0.001)));
  const batch = options.batch ?? 1_000;
  // The run takes minutes (the gateway first replays a million changes): say where it is.
  const log = options.log ?? ((line: string) => process.stderr.write(`screening bench: ${line}\n`));
  const perRegistry = Math.floor(listed / COUNTRIES.length);
  const dir = await mkdtemp(join(tmpdir(), "imeifed-bench-screening-"));
  const trust = await createTestTrust();
  const registries: RegistryProcess[] = [];
  const stores: RegistryStore[] = [];
  let gateway: Child | undefined;
  let client: GrpcClient | undefined;
  try {
    // Seed each registry's SQLite file through the bulk import, then serve it from its own process.
    const seedStarted = process.hrtime.bigint();
    const dbs = COUNTRIES.map((c) => join(dir, `${c.toLowerCase()}.sqlite`));
    for (let r = 0; r < COUNTRIES.length; r++) {
      const store = await openSqliteStore({ path: dbs[r]! });
      await store.importReports(seedRows(r, perRegistry));
      await store.close();
    }
    const seedRowsPerSecond = (perRegistry * COUNTRIES.length) / (Number(process.hrtime.bigint() - seedStarted) / 1e9);
    log(`seeded ${perRegistry * COUNTRIES.length} listed devices at ${Math.round(seedRowsPerSecond)} rows/s`);
    for (let r = 0; r < COUNTRIES.length; r++) registries.push(await spawnRegistryProcess({ country: COUNTRIES[r]!, trust, db: { sqlite: dbs[r]! } }));

    const configFile = join(dir, "gateway.json");
    writeFileSync(
      configFile,
      JSON.stringify({
        id: "gateway",
        listen: "127.0.0.1:0",
        trustFile: trust.trustFile,
        key: trust.privateKeyFile("gateway"),
        registries: registries.map((reg, r) => ({
          country: COUNTRIES[r],
          id: `registry-${COUNTRIES[r]!.toLowerCase()}`,
          address: reg.address,
          batchLimit: options.upstreamBatchLimit ?? 10_000,
        })),
        deadlines: { upstreamMaxMs: 10_000, marginMs: 25 },
        cache: { maxEntries: Math.ceil(items * 1.1), listedTtlMs: 3_600_000, unlistedTtlMs: 600_000 },
      }),
    );
    const metadata = new Metadata();
    metadata.set("authorization", `Bearer ${await trust.token("customs-gb", { audience: "gateway", ttlSec: 3_600 })}`);
    for (const db of dbs) stores.push(await openSqliteStore({ path: db }));

    const rounds: ScreeningRound[] = [];
    let gatewayPeakRssColdBytes = 0;
    let gatewayPeakRssWarmBytes = 0;
    let imeis: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      // The round's manifest, encoded before any timing.
      imeis = Array.from({ length: items }, (_, i) => benchImei("manifest", i, hitEvery, perRegistry, round, items));
      const requests = screenRequests(`BENCH-DEC-${round + 1}`, imeis, batch);
      // A warm-up shipment of other devices, a fifth of the manifest's size with its share of
      // listed ones, so the processes' compilers have seen all of the work, findings and sightings
      // too, before the timed runs; the manifest's devices stay in no cache. Long-running gateways
      // and registries are warm; freshly started ones are not. Measured with perf: after a warm-up
      // of 50,000 devices none of them listed, V8's compiler still took ~16% of the machine's
      // samples during the cold run, and each registry had seen only 5 calls.
      const warmUpImeis = Array.from({ length: Math.ceil(items / 5) }, (_, i) => benchImei("warm-up", i, hitEvery, perRegistry, round, items));
      const warmUpRequests = screenRequests(`BENCH-WARM-UP-${round + 1}`, warmUpImeis, batch);

      // A fresh gateway each round: its cache starts cold.
      gateway = await spawnGateway(configFile, options.gatewayNodeArgs);
      client = new GrpcClient(gateway.address, credentials.createInsecure(), DEFAULT_CHANNEL_OPTIONS);
      // The gateway caches only while it follows every registry's change stream: wait until it has
      // replayed the seeded backlog (a repeated lookup then comes from the cache). The device asked
      // is a warm-up one, so the manifest's stay out of the cache.
      const probe = Buffer.from(toBinary(LookupRequestSchema, create(LookupRequestSchema, { imei: warmUpImeis[1]!, purpose: "bench warm-up" })));
      const lookup = (on: GrpcClient) =>
        new Promise<boolean>((done, fail) =>
          on.makeUnaryRequest(LOOKUP, (b: Buffer) => b, (b: Buffer) => b, probe, metadata, { deadline: Date.now() + 10_000 }, (error, response) =>
            error ? fail(error) : done(fromBinary(LookupResponseSchema, response!).fromCache),
          ),
        );
      const followStarted = Date.now();
      for (;;) {
        await lookup(client);
        if (await lookup(client)) break;
        if (Date.now() - followStarted > 600_000) throw new Error("the gateway did not catch up with the registries' change streams in 10 minutes");
        await new Promise((r) => setTimeout(r, 500));
      }
      log(`round ${round + 1}: gateway follows all registries after ${((Date.now() - followStarted) / 1000).toFixed(1)} s`);

      const pids = { gateway: gateway.process.pid!, registries: registries.map((r) => r.pid), bench: process.pid };
      const cpu = () => ({ gateway: cpuSeconds(pids.gateway), registries: pids.registries.reduce((sum, pid) => sum + cpuSeconds(pid), 0), bench: cpuSeconds(pids.bench) });
      const timed = async (label: string) => {
        const cpuBefore = cpu();
        const started = process.hrtime.bigint();
        const run = await screenRaw(client!, metadata, requests);
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        const cpuAfter = cpu();
        log(
          `round ${round + 1}, ${label}: CPU seconds: gateway ${(cpuAfter.gateway - cpuBefore.gateway).toFixed(1)}, five registries ${(cpuAfter.registries - cpuBefore.registries).toFixed(1)}, load generator ${(cpuAfter.bench - cpuBefore.bench).toFixed(1)}`,
        );
        if (run.summary.itemsScreened !== BigInt(items)) throw new Error(`${label}: screened ${run.summary.itemsScreened} of ${items} items`);
        const unanswered = run.summary.counts.find((c) => c.outcome === ScreeningOutcome.UNANSWERED)?.count ?? 0n;
        if (unanswered > 0n) throw new Error(`${label}: ${unanswered} items unanswered (${run.summary.unanswered.map((u) => u.country).join(", ")})`);
        log(`round ${round + 1}, ${label}: ${items} items in ${seconds.toFixed(1)} s, ${run.findings} findings`);
        return { rate: items / seconds, findings: run.findings };
      };
      await screenRaw(client, metadata, warmUpRequests);
      log(`round ${round + 1}: warmed up: ${warmUpImeis.length} other devices screened`);
      const cold = await timed("cold cache");
      gatewayPeakRssColdBytes = Math.max(gatewayPeakRssColdBytes, peakRss(gateway.process.pid!));
      const warm = await timed("warm cache");
      gatewayPeakRssWarmBytes = Math.max(gatewayPeakRssWarmBytes, peakRss(gateway.process.pid!));
      client.close();
      client = undefined;
      await gateway.stop();
      gateway = undefined;

      // The ceiling, right after: the same items, parsed and looked up directly in the five stores,
      // chunk by chunk; three passes, the fastest counts: a ceiling is what the stores can do at best
      // (back-to-back passes differ by up to ~25% here, and a slow one would flatter the ratios).
      const passes: number[] = [];
      let hits = 0;
      for (let pass = 0; pass < CEILING_PASSES; pass++) {
        const ceilingStarted = process.hrtime.bigint();
        hits = 0;
        for (let start = 0; start < imeis.length; start += batch) {
          const keys: DeviceKey[] = [];
          for (let i = start; i < Math.min(imeis.length, start + batch); i++) {
            const parsed = parseDevice(imeis[i]!);
            if (parsed.ok) keys.push(parsed.device.key);
          }
          for (const store of stores) hits += (await store.openRecords(keys)).size;
        }
        passes.push(Number(process.hrtime.bigint() - ceilingStarted) / 1e9);
      }
      const ceilingSeconds = Math.min(...passes);
      const ceiling = items / ceilingSeconds;
      log(
        `round ${round + 1}, in-process ceiling: ${items} items in ${passes.map((p) => p.toFixed(2)).join(", ")} s (the fastest counts), ${hits} listed; cold ${(cold.rate / ceiling).toFixed(3)}x, warm ${(warm.rate / ceiling).toFixed(3)}x`,
      );
      rounds.push({ coldItemsPerSecond: cold.rate, warmItemsPerSecond: warm.rate, ceilingItemsPerSecond: ceiling, findings: { cold: cold.findings, warm: warm.findings } });
    }

    // Where the cold run's time goes: the last round's questions (sparse, 10,000 a call, 4 calls in
    // flight per registry, as the gateway asks them) sent straight to the five registries, without the
    // gateway. Last, so nothing it leaves behind (signatures the registries keep for reuse) helps a cold run.
    const direct = await askRegistriesDirectly(registries, trust, imeis, options.upstreamBatchLimit ?? 10_000);
    log(`registries alone: ${items * COUNTRIES.length} sparse questions in ${direct.seconds.toFixed(1)} s; CPU seconds: five registries ${direct.registryCpu.toFixed(1)}`);
    return {
      items,
      listed: perRegistry * COUNTRIES.length,
      seedRowsPerSecond,
      rounds,
      registriesAloneItemsPerSecond: items / direct.seconds,
      registriesAloneCeilingItemsPerSecond: rounds[rounds.length - 1]!.ceilingItemsPerSecond,
      gatewayPeakRssColdBytes,
      gatewayPeakRssWarmBytes,
    };
  } finally {
    client?.close();
    for (const store of stores) await store.close().catch(() => {});
    await gateway?.stop();
    for (const reg of registries) await reg.stop().catch(() => null);
    await trust.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The screening figures against the goals (cold ≥ 0.25, warm ≥ 0.5 of the in-process ceiling). */
export async function screeningSuite(options: ScreeningBenchOptions = {}): Promise<BenchSuite> {
  const r = await benchScreening(options);
  const ceilingOf = (round: ScreeningRound) => ({ name: "direct lookups in the five stores, in process, right after", value: Math.round(round.ceilingItemsPerSecond), unit: "items/s" });
  const cold = medianRound(r.rounds, (x) => x.coldItemsPerSecond / x.ceilingItemsPerSecond);
  const warm = medianRound(r.rounds, (x) => x.warmItemsPerSecond / x.ceilingItemsPerSecond);
  const spread = (ratio: (x: ScreeningRound) => number) => r.rounds.map((x) => ratio(x).toFixed(2)).join(", ");
  const figures: BenchFigure[] = [
    ratioFigure(
      `Screen, ${r.items} items, 5 registries (${r.listed} listed), cold cache (median of ${r.rounds.length} rounds: ${spread((x) => x.coldItemsPerSecond / x.ceilingItemsPerSecond)}x)`,
      Math.round(cold.coldItemsPerSecond),
      "items/s",
      ceilingOf(cold),
      { text: ">= 0.25x the in-process ceiling", met: (x) => x >= 0.25 },
    ),
    ratioFigure(`Screen, same manifest, warm cache (median of ${r.rounds.length} rounds: ${spread((x) => x.warmItemsPerSecond / x.ceilingItemsPerSecond)}x)`, Math.round(warm.warmItemsPerSecond), "items/s", ceilingOf(warm), {
      text: ">= 0.5x the in-process ceiling",
      met: (x) => x >= 0.5,
    }),
    // Not a goal: where the cold run's time goes (the gateway's share is the difference).
    ratioFigure(`the last round's registry questions without the gateway (5 registries, sparse, 10,000 a call)`, Math.round(r.registriesAloneItemsPerSecond), "items/s", {
      name: "that round's in-process ceiling",
      value: Math.round(r.registriesAloneCeilingItemsPerSecond),
      unit: "items/s",
    }),
    { name: "gateway peak RSS during the cold screening (largest of the rounds)", value: r.gatewayPeakRssColdBytes, unit: "bytes" },
    { name: "gateway peak RSS after the warm screening (listed answers in the LRU, clean ones in the compact table)", value: r.gatewayPeakRssWarmBytes, unit: "bytes" },
    { name: "registry seeding through the bulk import (importReports), SQLite", value: Math.round(r.seedRowsPerSecond), unit: "rows/s" },
  ];
  return { suite: "screening", figures };
}
