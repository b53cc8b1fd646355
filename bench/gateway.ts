/**
 * The gateway's part of `npm run bench` (issues 4 and 9), on loopback, every
 * figure against a baseline measured in the same run:
 *
 * - cache-hit Lookup throughput at 64 in flight vs a bare grpc-js server
 *   answering same-size messages (goal ≥ 0.8);
 * - cache-miss Lookup over 5 registries, median and p99 latency at 1 in flight,
 *   vs one direct CheckDevice on one registry (goal median ≤ 1.5×);
 * - cache-miss throughput at 64 in flight as a share of cache-hit (goal ≥ 0.5);
 * - latency at 1 in flight, batched vs unbatched gateway (goal within 10%);
 * - whether two channels per registry beat one on this machine;
 * - retained heap per 100,000 cached findings.
 *
 * Registries, gateways and the echo server run as child processes (as in
 * production), so the load generator in this process does not share their
 * event loop. The load generator sends pre-encoded requests on raw grpc-js
 * calls, the same way to the gateway and to the echo server.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { pathToFileURL } from "node:url";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { Client as GrpcClient, credentials, Metadata } from "@grpc/grpc-js";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { luhnCheckDigit, type DeviceKey } from "../device/index.js";
import { DeviceStatus, FindingSchema, type Finding } from "../gen/imeifed/v1/device_pb.js";
import { LookupRequestSchema, LookupResponseSchema, Verdict } from "../gen/imeifed/v1/federation_pb.js";
import { CheckDeviceRequestSchema } from "../gen/imeifed/v1/registry_pb.js";
import { FindingCache } from "../gateway/cache/finding-cache.js";
import { DEFAULT_CHANNEL_OPTIONS } from "../rpc/index.js";
import { importCsv } from "../services/registry/import/csv-import.js";
import { openSqliteStore } from "../services/registry/store/sqlite-store.js";
import { spawnRegistryProcess, type RegistryProcess } from "../test/support/registry-fixture.js";
import { createTestTrust, type TestTrust } from "../test/support/trust-fixture.js";
import { ratioFigure, type BenchFigure, type BenchSuite } from "./figure.js";
import { syntheticImportCsv } from "./registry-import.js";

const COUNTRIES = ["GB", "ES", "JP", "BR", "US"];
const CLI = resolve(import.meta.dirname, "../cli/bin.js");
const ECHO = resolve(import.meta.dirname, "echo-server.ts");
const LOOKUP = "/imeifed.v1.FederationService/Lookup";
const CHECK_DEVICE = "/imeifed.v1.RegistryService/CheckDevice";

export interface GatewayBenchOptions {
  /** Listed devices imported into each registry before it starts (default 20,000). */
  seedRows?: number;
  /** Calls in flight for throughput figures (default 64). */
  inFlight?: number;
  /** Length of each throughput run after a 1 s warm-up (default 4 s). */
  durationMs?: number;
  /** Sequential calls for each latency figure (default 400). */
  latencyCalls?: number;
}

/** A child process that printed one JSON line when ready. */
interface Child {
  readonly process: ChildProcess;
  readonly address: string;
  stop(): Promise<void>;
}

async function spawnReady(args: string[], ready: (line: Record<string, unknown>) => string | undefined): Promise<Child> {
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (c: string) => (stderr += c));
  const exited = once(child, "exit");
  const address = await new Promise<string>((resolveAddress, reject) => {
    createInterface({ input: child.stdout! }).on("line", (line) => {
      try {
        const found = ready(JSON.parse(line) as Record<string, unknown>);
        if (found) resolveAddress(found);
      } catch {
        // not JSON
      }
    });
    void exited.then(() => reject(new Error(`${args.join(" ")} exited before it was ready:\n${stderr}`)));
  });
  return {
    process: child,
    address,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
        await exited;
        clearTimeout(timer);
      }
    },
  };
}

/** Pre-encoded raw calls on one long-lived channel: no protobuf work on the load side. */
class RawCaller {
  readonly #client: GrpcClient;
  readonly #metadata: Metadata;

  constructor(address: string, token: string) {
    this.#client = new GrpcClient(address, credentials.createInsecure(), DEFAULT_CHANNEL_OPTIONS);
    this.#metadata = new Metadata();
    this.#metadata.set("authorization", `Bearer ${token}`);
  }

  call(path: string, request: Buffer, timeoutMs = 5_000): Promise<Buffer> {
    return new Promise((resolveCall, reject) => {
      this.#client.makeUnaryRequest(
        path,
        (b: Buffer) => b,
        (b: Buffer) => b,
        request,
        this.#metadata,
        { deadline: Date.now() + timeoutMs },
        (error, response) => (error ? reject(error) : resolveCall(response!)),
      );
    });
  }

  close(): void {
    this.#client.close();
  }
}

/** A load to measure: one call, given a running index. */
type Load = (i: number) => Promise<unknown>;

/**
 * Throughput of several loads measured in alternating rounds (A B C A B C
 * ...), each at `inFlight` calls in flight, so that a busy machine's drift
 * hits every load alike and the ratios stay meaningful.
 */
async function alternating(loads: Load[], inFlight: number, totalMs: number, roundMs = 1_000): Promise<{ rate: number; errors: number }[]> {
  const done = loads.map(() => 0);
  const errors = loads.map(() => 0);
  const seconds = loads.map(() => 0);
  const index = loads.map(() => 0);
  const rounds = Math.max(1, Math.round(totalMs / roundMs));
  for (let round = 0; round < rounds; round++) {
    for (let l = 0; l < loads.length; l++) {
      let stop = false;
      let counting = false;
      const load = loads[l]!;
      const loop = async () => {
        while (!stop) {
          try {
            await load(index[l]!++);
            if (counting) done[l]!++;
          } catch {
            if (counting) errors[l]!++;
          }
        }
      };
      const loops = Array.from({ length: inFlight }, loop);
      await new Promise((r) => setTimeout(r, 200)); // let the pipeline fill
      counting = true;
      const started = process.hrtime.bigint();
      await new Promise((r) => setTimeout(r, roundMs));
      counting = false;
      seconds[l]! += Number(process.hrtime.bigint() - started) / 1e9;
      stop = true;
      await Promise.all(loops);
    }
  }
  return loads.map((_, l) => ({ rate: done[l]! / seconds[l]!, errors: errors[l]! }));
}

/** Sequential calls, alternating between the loads call by call; the median and p99 of each in ms. */
async function interleavedLatency(loads: Load[], calls: number): Promise<{ p50: number; p99: number }[]> {
  for (let i = 0; i < 300; i++) for (const load of loads) await load(-1 - i);
  const samples: number[][] = loads.map(() => []);
  for (let i = 0; i < calls; i++) {
    for (let l = 0; l < loads.length; l++) {
      const started = process.hrtime.bigint();
      await loads[l]!(i);
      samples[l]!.push(Number(process.hrtime.bigint() - started) / 1e6);
    }
  }
  return samples.map((s) => {
    s.sort((a, b) => a - b);
    const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
    return { p50: at(0.5), p99: at(0.99) };
  });
}

/** Device bodies in ranges no registry lists and no earlier figure asked about (TAC 86… is never seeded). */
class FreshDevices {
  #n = 0;
  constructor(readonly tac: string) {}
  next(): string {
    const body = `${this.tac}${String(this.#n++ % 1_000_000).padStart(6, "0")}`;
    return body + String(luhnCheckDigit(body));
  }
}

function lookupBytes(imei: string, purpose = "bench"): Buffer {
  return Buffer.from(toBinary(LookupRequestSchema, create(LookupRequestSchema, { imei, purpose })));
}

/** The federation the figures are measured on. */
export interface BenchFederation {
  readonly trust: TestTrust;
  readonly registries: readonly RegistryProcess[];
  /** Starts a gateway process with config overrides; stopped by `stop()`. */
  gateway(overrides?: Record<string, unknown>, registryOverrides?: Record<string, unknown>): Promise<Child>;
  token(principal: string, audience: string): Promise<string>;
  stop(): Promise<void>;
}

/** Seeds five SQLite registries, starts them as processes, and hands out gateways on demand. */
export async function startBenchFederation(options: GatewayBenchOptions = {}): Promise<BenchFederation> {
  const dir = await mkdtemp(join(tmpdir(), "imeifed-bench-gateway-"));
  const trust = await createTestTrust();
  const children: Child[] = [];
  const registries: RegistryProcess[] = [];
  const stop = async () => {
    for (const c of children) await c.stop();
    for (const r of registries) await r.stop();
    await trust.cleanup();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const country of COUNTRIES) {
      const db = join(dir, `${country.toLowerCase()}.sqlite`);
      const store = await openSqliteStore({ path: db });
      await importCsv(store, syntheticImportCsv(options.seedRows ?? 20_000));
      await store.close();
      registries.push(await spawnRegistryProcess({ country, trust, db: { sqlite: db } }));
    }
    let configs = 0;
    return {
      trust,
      registries,
      async gateway(overrides = {}, registryOverrides = {}) {
        const file = join(dir, `gateway-${++configs}.json`);
        mkdirSync(dir, { recursive: true });
        writeFileSync(
          file,
          JSON.stringify({
            id: "gateway",
            listen: "127.0.0.1:0",
            trustFile: trust.trustFile,
            key: trust.privateKeyFile("gateway"),
            registries: registries.map((r, i) => ({ country: COUNTRIES[i], id: `registry-${COUNTRIES[i]!.toLowerCase()}`, address: r.address, ...registryOverrides })),
            // Clean answers are kept for the whole run, so the cache-hit figure really hits.
            cache: { maxEntries: 1_000_000, listedTtlMs: 3_600_000, unlistedTtlMs: 600_000 },
            ...overrides,
          }),
        );
        const child = await spawnReady([CLI, "gateway", "serve", "--config", file], (line) => (line.msg === "gateway serving" ? String(line.address) : undefined));
        children.push(child);
        // Let the change streams catch up (the seeded backlog) before measuring.
        await new Promise((r) => setTimeout(r, 1_500));
        return child;
      },
      token: (principal, audience) => trust.token(principal, { audience, ttlSec: 3_600 }),
      stop,
    };
  } catch (error) {
    await stop().catch(() => {});
    throw error;
  }
}

/**
 * Cache-hit Lookup throughput vs the bare grpc-js echo server (same-size
 * messages, same token), and cache-miss throughput (every lookup a device
 * never asked before) as a share of cache-hit: three loads in alternating rounds.
 */
export async function lookupThroughput(fed: BenchFederation, options: GatewayBenchOptions = {}): Promise<{ hit: BenchFigure; miss: BenchFigure }> {
  const inFlight = options.inFlight ?? 64;
  const durationMs = options.durationMs ?? 4_000;
  const gateway = await fed.gateway();
  const token = await fed.token("police-es", "gateway");
  const caller = new RawCaller(gateway.address, token);
  const warm = new FreshDevices("86000001");
  const requests = Array.from({ length: 1_000 }, () => lookupBytes(warm.next()));
  let responseBytes = 0;
  for (const r of requests) {
    const response = await caller.call(LOOKUP, r);
    responseBytes = response.length;
    if (fromBinary(LookupResponseSchema, response).verdict !== Verdict.PERMITTED) throw new Error("warm-up lookup did not answer PERMITTED");
  }
  if (!fromBinary(LookupResponseSchema, await caller.call(LOOKUP, requests[0]!)).fromCache) throw new Error("the cache-hit figure would not hit the cache");
  const echo = await spawnReady(["--import", "tsx", ECHO, String(responseBytes)], (line) => (typeof line.address === "string" ? line.address : undefined));
  const echoCaller = new RawCaller(echo.address, token);
  const fresh = new FreshDevices("86000004");
  try {
    const [hit, base, miss] = await alternating(
      [(i) => caller.call(LOOKUP, requests[i % requests.length]!), (i) => echoCaller.call("/bench.Echo/Echo", requests[i % requests.length]!), () => caller.call(LOOKUP, lookupBytes(fresh.next()))],
      inFlight,
      durationMs,
    );
    if (hit!.errors + base!.errors + miss!.errors > 0) throw new Error(`errors: cache-hit ${hit!.errors}, echo ${base!.errors}, cache-miss ${miss!.errors}`);
    return {
      hit: ratioFigure(
        `cache-hit Lookup, ${inFlight} in flight (authenticated, ${responseBytes}-byte answers)`,
        Math.round(hit!.rate),
        "calls/s",
        { name: `bare grpc-js echo server, same-size messages, ${inFlight} in flight`, value: Math.round(base!.rate), unit: "calls/s" },
        { text: ">= 0.8x echo", met: (r) => r >= 0.8 },
      ),
      miss: ratioFigure(
        `cache-miss Lookup over 5 registries, ${inFlight} in flight (batched)`,
        Math.round(miss!.rate),
        "calls/s",
        { name: "cache-hit Lookup, same run", value: Math.round(hit!.rate), unit: "calls/s" },
        { text: ">= 0.5x cache-hit", met: (r) => r >= 0.5 },
      ),
    };
  } finally {
    caller.close();
    echoCaller.close();
    await echo.stop();
    await gateway.stop();
  }
}

/** How long the 1-in-flight latency figures' loads run at full load before they are measured. */
const WARM_UP_MS = 2_000;

/**
 * Cache-miss Lookup over five registries at 1 in flight (median, p99),
 * interleaved call by call with a cache-miss Lookup through a gateway over
 * one registry and one direct CheckDevice on that registry: the one-registry
 * Lookup shows what the gateway itself adds, the five-registry one what the
 * fan-out adds on top (issue 20, section 4).
 */
export async function cacheMissLatency(fed: BenchFederation, options: GatewayBenchOptions = {}): Promise<BenchFigure[]> {
  const gateway = await fed.gateway();
  const first = fed.registries[0]!;
  const single = await fed.gateway({ registries: [{ country: COUNTRIES[0], id: `registry-${COUNTRIES[0]!.toLowerCase()}`, address: first.address }] });
  const caller = new RawCaller(gateway.address, await fed.token("police-es", "gateway"));
  const singleCaller = new RawCaller(single.address, await fed.token("police-es", "gateway"));
  const direct = new RawCaller(first.address, await fed.token("police-es", "registry-gb"));
  const viaGateway = new FreshDevices("86000002");
  const toRegistry = new FreshDevices("86000003");
  const viaSingle = new FreshDevices("86000004");
  const loads: Load[] = [
    () => caller.call(LOOKUP, lookupBytes(viaGateway.next())),
    () => direct.call(CHECK_DEVICE, Buffer.from(toBinary(CheckDeviceRequestSchema, create(CheckDeviceRequestSchema, { imei: toRegistry.next(), purpose: "bench" })))),
    () => singleCaller.call(LOOKUP, lookupBytes(viaSingle.next())),
  ];
  try {
    // Warm every path as the other figures' gateways are warmed (by a throughput phase): a fresh
    // gateway process runs unoptimised code for its first thousands of calls.
    await alternating(loads, options.inFlight ?? 64, WARM_UP_MS);
    const [miss, one, overOne] = await interleavedLatency(loads, options.latencyCalls ?? 400);
    const baseline = { name: "one direct CheckDevice on one registry, median", value: round(one!.p50), unit: "ms" };
    return [
      ratioFigure("cache-miss Lookup over 5 registries, 1 in flight, median", round(miss!.p50), "ms", baseline, { text: "<= 1.5x", met: (r) => r <= 1.5 }),
      ratioFigure("cache-miss Lookup over 5 registries, 1 in flight, p99", round(miss!.p99), "ms", { ...baseline, name: "one direct CheckDevice on one registry, p99", value: round(one!.p99) }),
      ratioFigure("cache-miss Lookup over 1 registry, 1 in flight, median (what the gateway adds)", round(overOne!.p50), "ms", baseline),
      ratioFigure("cache-miss Lookup over 5 registries against over 1, 1 in flight, median (what the fan-out adds)", round(miss!.p50), "ms", {
        name: "cache-miss Lookup over 1 registry, median",
        value: round(overOne!.p50),
        unit: "ms",
      }),
    ];
  } finally {
    caller.close();
    singleCaller.close();
    direct.close();
    await gateway.stop();
    await single.stop();
  }
}

/** Settings of a gateway that never gathers misses: every miss is its own call to each registry. */
const UNBATCHED = { batching: { maxInFlight: 1_000_000, maxWaitMs: 0 } };

/**
 * Two gateways side by side, the second changed by `variant`: cache-miss
 * throughput at `inFlight` in alternating rounds, and latency at 1 in flight
 * interleaved call by call.
 */
export async function compareGateways(
  fed: BenchFederation,
  options: GatewayBenchOptions,
  variant: { gateway?: Record<string, unknown>; registry?: Record<string, unknown> },
): Promise<{ throughput: [number, number]; latency: [number, number] }> {
  const [a, b] = [await fed.gateway(), await fed.gateway(variant.gateway ?? {}, variant.registry ?? {})];
  const token = await fed.token("police-es", "gateway");
  const callers = [new RawCaller(a.address, token), new RawCaller(b.address, token)];
  const devices = [new FreshDevices("86000005"), new FreshDevices("86000006")];
  const loads: Load[] = [0, 1].map((k) => () => callers[k]!.call(LOOKUP, lookupBytes(devices[k]!.next())));
  try {
    const [ta, tb] = await alternating(loads, options.inFlight ?? 64, options.durationMs ?? 4_000);
    if (ta!.errors + tb!.errors > 0) throw new Error(`errors: ${ta!.errors} and ${tb!.errors}`);
    const [la, lb] = await interleavedLatency(loads, options.latencyCalls ?? 400);
    return { throughput: [ta!.rate, tb!.rate], latency: [la!.p50, lb!.p50] };
  } finally {
    for (const c of callers) c.close();
    await a.stop();
    await b.stop();
  }
}

/** Batching on vs off: cache-miss throughput at 64 in flight, and latency at 1 in flight (goal: within 10%). */
export async function batchingComparison(fed: BenchFederation, options: GatewayBenchOptions = {}): Promise<BenchFigure[]> {
  const inFlight = options.inFlight ?? 64;
  const { throughput: t, latency: l } = await compareGateways(fed, options, { gateway: UNBATCHED });
  return [
    ratioFigure(`cache-miss Lookup, ${inFlight} in flight, batching on`, Math.round(t[0]), "calls/s", {
      name: "the same with batching off (one call per registry per miss)",
      value: Math.round(t[1]),
      unit: "calls/s",
    }),
    ratioFigure(
      "cache-miss Lookup, 1 in flight, batching on, median",
      round(l[0]),
      "ms",
      { name: "the same with batching off, median", value: round(l[1]), unit: "ms" },
      { text: "<= 1.1x", met: (r) => r <= 1.1 },
    ),
  ];
}

/** Two channels per registry vs one: cache-miss throughput at 64 in flight (keep the pool only if this is clearly above 1). */
export async function channelPoolComparison(fed: BenchFederation, options: GatewayBenchOptions = {}): Promise<BenchFigure> {
  const { throughput: t } = await compareGateways(fed, options, { registry: { channels: 2 } });
  return ratioFigure(`cache-miss Lookup, ${options.inFlight ?? 64} in flight, 2 channels per registry`, Math.round(t[1]), "calls/s", {
    name: "the same with 1 channel per registry",
    value: Math.round(t[0]),
    unit: "calls/s",
  });
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

/** Retained heap of 100,000 cached PROHIBITED findings (each its own decoded message, with a registry attestation), against their wire size. */
export async function cachedFindingsMemory(sample?: Finding): Promise<BenchFigure> {
  setFlagsFromString("--expose-gc");
  const gc = runInNewContext("gc") as () => void;
  const finding =
    sample ??
    create(FindingSchema, {
      country: "GB",
      status: DeviceStatus.PROHIBITED,
      reportingAgency: "police-gb",
      verified: true,
      caseToken: "x".repeat(43),
      make: "Acme",
      model: "Phone 12",
      attestation: "e".repeat(560),
    });
  const bytes = toBinary(FindingSchema, finding);
  const cache = new FindingCache({ maxEntries: 200_000, listedTtlMs: 3_600_000, unlistedTtlMs: 5_000 });
  gc();
  const before = process.memoryUsage().heapUsed;
  const n = 100_000;
  for (let i = 0; i < n; i++) {
    const key = `${35693803 + Math.floor(i / 1_000_000)}${String(i % 1_000_000).padStart(6, "0")}` as DeviceKey;
    const f = fromBinary(FindingSchema, bytes);
    f.deviceKey = key;
    cache.put(key, "GB", "police-es", { status: DeviceStatus.PROHIBITED, finding: f, cacheMaxAgeMs: undefined }, cache.ticket());
  }
  gc();
  const retained = process.memoryUsage().heapUsed - before;
  if (cache.size !== n) throw new Error(`cache holds ${cache.size} devices, expected ${n}`);
  return ratioFigure(
    "retained heap per 100,000 cached findings",
    Math.round(retained / 1024 / 1024),
    "MiB",
    { name: "their protobuf wire size", value: Math.round(((bytes.length + 16) * n) / 1024 / 1024), unit: "MiB" },
  );
}

/** Every gateway figure, in one run. */
/**
 * What the hash-chained audit log costs on the cache-hit path: the same
 * cache-hit load on a gateway that writes every Lookup to its SQLite audit log,
 * against one that keeps none (the other figures' gateways), alternating rounds.
 */
export async function auditCost(fed: BenchFederation, options: GatewayBenchOptions = {}): Promise<BenchFigure> {
  const inFlight = options.inFlight ?? 64;
  const durationMs = options.durationMs ?? 4_000;
  const plain = await fed.gateway();
  const audited = await fed.gateway({ audit: { sqlite: join(tmpdir(), `imeifed-bench-audit-${process.pid}-${Date.now()}.sqlite`) } });
  const token = await fed.token("police-es", "gateway");
  const callers = [new RawCaller(plain.address, token), new RawCaller(audited.address, token)];
  const devices = new FreshDevices("86000009");
  const requests = Array.from({ length: 1_000 }, () => lookupBytes(devices.next()));
  // Warm both caches with the same devices, so every measured call is a hit.
  for (const caller of callers) for (const r of requests) await caller.call(LOOKUP, r);
  const [withAudit, without] = await alternating(
    callers.slice().reverse().map((caller) => (i: number) => caller.call(LOOKUP, requests[i % requests.length]!)),
    inFlight,
    durationMs,
  );
  if (withAudit!.errors + without!.errors > 0) throw new Error(`errors: audited ${withAudit!.errors}, plain ${without!.errors}`);
  return ratioFigure(`cache-hit Lookup, ${inFlight} in flight, every call written to the SQLite audit log`, Math.round(withAudit!.rate), "calls/s", {
    name: "the same without an audit log",
    value: Math.round(without!.rate),
    unit: "calls/s",
  });
}

export async function gatewaySuite(options: GatewayBenchOptions = {}): Promise<BenchSuite> {
  const fed = await startBenchFederation(options);
  try {
    const { hit, miss } = await lookupThroughput(fed, options);
    const latencyFigures = await cacheMissLatency(fed, options);
    const batching = await batchingComparison(fed, options);
    const pool = await channelPoolComparison(fed, options);
    const audit = await auditCost(fed, options);
    const memory = await cachedFindingsMemory();
    return { suite: "gateway", figures: [hit, miss, ...latencyFigures, ...batching, pool, audit, memory] };
  } finally {
    await fed.stop();
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const quick = process.argv.includes("--quick");
  const suite = await gatewaySuite(quick ? { seedRows: 2_000, durationMs: 2_000, latencyCalls: 100 } : {});
  for (const f of suite.figures) {
    const ratio = f.ratio === undefined ? "" : ` (${f.ratio.toFixed(2)}x ${f.baseline?.name}: ${f.baseline?.value} ${f.baseline?.unit})`;
    console.log(`${f.name}: ${f.value} ${f.unit}${ratio}${f.goal ? ` goal ${f.goal}: ${f.met ? "met" : "NOT met"}` : ""}`);
  }
  console.log(JSON.stringify(suite, null, 2));
}
