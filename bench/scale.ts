/**
 * A registry at national scale on PostgreSQL (issue 20, section 3): the same
 * figures for a registry of 10,000,000 imported rows and for one of 100,000,
 * so the ratio shows what size costs.
 *
 * - The import: `imeifed registry import --postgres` as a child process on a
 *   synthetic CSV file written beforehand (one row in ten a dual-SIM device),
 *   in rows per second, with the importing process's peak resident memory
 *   (VmHWM), the CPU it and its PostgreSQL backends used, and the tables'
 *   size afterwards.
 * - Checks, against a `registry serve` child process on that schema, one call
 *   in flight, over a raw grpc-js client sending pre-encoded requests:
 *   CheckDevice latency (p50, p99; listed and unlisted IMEIs alternating),
 *   and CheckDevices of 5,000 IMEIs a call, all unlisted (keys between listed
 *   ones, so each probe lands anywhere in the index) and all listed (40,000 devices spread over the table, their attestations
 *   signed in a warm-up: signing is the same cost at any size), in checks per
 *   second; with the CPU per check of the registry process and of its
 *   PostgreSQL backends (what a check costs, whatever else the machine runs).
 *   Both registries run at once and are measured in alternating rounds, so a
 *   change in the machine's load weighs on both alike. Measured right after
 *   the import and again after `VACUUM ANALYZE` ("later": hint bits set,
 *   statistics fresh).
 * - The machine's load average before and after, since the 2 cores are shared.
 *
 * Needs PostgreSQL (IMEIFED_BENCH_POSTGRES, default the test database on
 * 127.0.0.1); makes and drops its own schemas. Not included (issue 20 lists
 * them): a gateway catching up on 10M changes, screening against five 10M
 * registries, three gateway replicas.
 */
import { once } from "node:events";
import { createWriteStream, readFileSync, rmSync, statSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { spawn } from "node:child_process";
import { loadavg, tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Client as GrpcClient, credentials, Metadata } from "@grpc/grpc-js";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import pg from "pg";
import { luhnCheckDigit } from "../device/index.js";
import { DeviceStatus } from "../gen/imeifed/v1/device_pb.js";
import { CheckDeviceRequestSchema, CheckDevicesRequestSchema, CheckDevicesResponseSchema } from "../gen/imeifed/v1/registry_pb.js";
import { DEFAULT_CHANNEL_OPTIONS } from "../rpc/index.js";
import { spawnRegistryProcess, type RegistryProcess } from "../test/support/registry-fixture.js";
import { createTestTrust, type TestTrust } from "../test/support/trust-fixture.js";
import { ratioFigure, type BenchFigure, type BenchSuite } from "./figure.js";
import { cpuSeconds } from "./process-cpu.js";
import { syntheticImportCsv, syntheticListedKey } from "./registry-import.js";

const CLI = resolve(import.meta.dirname, "../cli/bin.js");
const CHECK_DEVICE = "/imeifed.v1.RegistryService/CheckDevice";
const CHECK_DEVICES = "/imeifed.v1.RegistryService/CheckDevices";
/** Batches of distinct listed devices asked in turn (8 x 5,000 = 40,000 findings, under the registry's 50,000 kept). */
const LISTED_POOL = 8;
/** Rounds of checks, alternating the registries. */
const ROUNDS = 4;

export interface ScaleBenchOptions {
  /** Rows of the large registry (default 10,000,000). */
  rows?: number;
  /** Rows of the baseline registry (default 100,000). */
  baselineRows?: number;
  /** CheckDevice calls timed for the percentiles (default 2,000). */
  singleCalls?: number;
  /** CheckDevices calls timed for each kind of batch (default 40). */
  batchCalls?: number;
  /** IMEIs per CheckDevices call (default 5,000). */
  batch?: number;
}

interface ImportFigures {
  rowsPerSecond: number;
  /** CPU of the importing process and of its PostgreSQL backends per 1,000 rows: what the rate costs, whatever else runs. */
  importerCpuMsPerKRows: number;
  postgresCpuMsPerKRows: number;
  seconds: number;
  peakRssMb: number;
  recordsMb: number;
  changesMb: number;
}

interface CheckFigures {
  p50Ms: number;
  p99Ms: number;
  unlistedPerSecond: number;
  listedPerSecond: number;
  /** Registry process CPU per check, all-unlisted batches. */
  unlistedCpuUs: number;
  /** CPU of the registry's PostgreSQL backends per check, all-unlisted batches. */
  unlistedPostgresCpuUs: number;
  /** Sequential scans of `records` counted while checking. */
  seqScans: number;
}

/** One round of checks against one registry. */
interface CheckRound {
  latencies: number[];
  unlisted: { checks: number; seconds: number; cpu: number; postgresCpu: number };
  listed: { checks: number; seconds: number };
  seqScans: number;
}

function combine(rounds: readonly CheckRound[]): CheckFigures {
  const latencies = rounds.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const sum = (f: (r: CheckRound) => number) => rounds.reduce((total, r) => total + f(r), 0);
  const unlistedChecks = sum((r) => r.unlisted.checks);
  return {
    p50Ms: percentile(latencies, 50),
    p99Ms: percentile(latencies, 99),
    unlistedPerSecond: unlistedChecks / sum((r) => r.unlisted.seconds),
    listedPerSecond: sum((r) => r.listed.checks) / sum((r) => r.listed.seconds),
    unlistedCpuUs: (sum((r) => r.unlisted.cpu) * 1e6) / unlistedChecks,
    unlistedPostgresCpuUs: (sum((r) => r.unlisted.postgresCpu) * 1e6) / unlistedChecks,
    seqScans: sum((r) => r.seqScans),
  };
}

const log = (line: string) => console.error(`scale: ${line}`);

function imeiOf(key: string): string {
  return key + String(luhnCheckDigit(key));
}

/**
 * A device that is not listed but whose key lies between listed ones, so its
 * probe lands anywhere in the index as a real question would: row j's first
 * key has an even serial; the next odd serial is listed only as the second
 * IMEI of a dual-SIM row, which rows j % 10 == 0 have.
 */
function unlistedKeyNear(j: number, rows: number): string {
  const row = j % 10 === 0 ? (j + 1) % rows : j;
  const key = syntheticListedKey(row);
  return key.slice(0, -1) + String(Number(key.at(-1)) + 1);
}

async function writeCsv(file: string, rows: number): Promise<void> {
  const out = createWriteStream(file);
  for (const chunk of syntheticImportCsv(rows)) if (!out.write(chunk)) await once(out, "drain");
  out.end();
  await once(out, "finish");
}

/** Peak resident memory of a live process so far (VmHWM), in MB; 0 once it is gone. */
function peakRssMb(pid: number): number {
  try {
    const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

async function importFile(url: string, schema: string, file: string, rows: number, admin: pg.Client): Promise<ImportFigures> {
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, [CLI, "registry", "import", "--country", "GB", "--postgres", url, "--schema", schema, file], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout.setEncoding("utf8").on("data", (s: string) => (output += s));
  child.stderr.setEncoding("utf8").on("data", (s: string) => (output += s));
  let peak = 0;
  // CPU seconds by pid, last seen: the importer's and its PostgreSQL backends' (found by application name).
  const cpu = new Map<number, number>();
  const backends = new Set<number>();
  const sample = setInterval(() => {
    peak = Math.max(peak, peakRssMb(child.pid!));
    for (const pid of [child.pid!, ...backends]) {
      const seconds = cpuSeconds(pid);
      if (seconds > 0) cpu.set(pid, seconds);
    }
  }, 100);
  const findBackends = setInterval(() => {
    admin
      .query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE application_name = $1", [`imeifed registry ${schema}`])
      .then(({ rows }) => rows.forEach((r) => backends.add(r.pid)))
      .catch(() => {});
  }, 1_000);
  const [code] = (await once(child, "exit")) as [number | null];
  clearInterval(sample);
  clearInterval(findBackends);
  const cpuOf = (pids: Iterable<number>) => [...pids].reduce((sum, pid) => sum + (cpu.get(pid) ?? 0), 0);
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (code !== 0) throw new Error(`import of ${file} exited ${code}: ${output}`);
  log(`${output.trim()} (peak RSS ${peak.toFixed(0)} MB)`);
  const size = async (table: string) =>
    Number((await admin.query<{ bytes: string }>(`SELECT pg_total_relation_size('"${schema}".${table}') AS bytes`)).rows[0]!.bytes) / 2 ** 20;
  log(`importer CPU ${cpuOf([child.pid!]).toFixed(1)} s, its PostgreSQL backends ${cpuOf(backends).toFixed(1)} s`);
  return {
    rowsPerSecond: rows / seconds,
    importerCpuMsPerKRows: (cpuOf([child.pid!]) * 1e6) / rows,
    postgresCpuMsPerKRows: (cpuOf(backends) * 1e6) / rows,
    seconds,
    peakRssMb: peak,
    recordsMb: await size("records"),
    changesMb: await size("changes"),
  };
}

function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;
}

async function seqScansOf(admin: pg.Client, schema: string): Promise<number> {
  // Another session's counters reach the shared statistics when it goes idle: clear this session's snapshot first.
  await admin.query("SELECT pg_stat_clear_snapshot()");
  const { rows } = await admin.query<{ seq_scan: string }>("SELECT seq_scan FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = 'records'", [schema]);
  return Number(rows[0]?.seq_scan ?? 0);
}

/** The CPU seconds so far of the registry's PostgreSQL backends (its pool, found by application name). */
async function backendCpu(admin: pg.Client, schema: string): Promise<number> {
  const { rows } = await admin.query<{ pid: number }>("SELECT pid FROM pg_stat_activity WHERE application_name = $1", [`imeifed registry ${schema}`]);
  return rows.reduce((sum, r) => sum + cpuSeconds(r.pid), 0);
}

async function measureChecks(registry: RegistryProcess, trust: TestTrust, rows: number, options: Required<ScaleBenchOptions>, admin: pg.Client, schema: string): Promise<CheckRound> {
  const grpc = new GrpcClient(registry.address, credentials.createInsecure(), DEFAULT_CHANNEL_OPTIONS);
  try {
    const metadata = new Metadata();
    metadata.set("authorization", (await trust.metadataFor("gateway", "registry-gb")()).authorization);
    const call = (method: string, request: Buffer) =>
      new Promise<Buffer>((resolveCall, reject) => {
        grpc.makeUnaryRequest<Buffer, Buffer>(method, (b) => b, (b) => b, request, metadata, { deadline: Date.now() + 60_000 }, (error, response) =>
          error ? reject(error) : resolveCall(response!),
        );
      });
    /** Listed answers in a CheckDevices response (the warm-up checks the pools are what they claim). */
    const listedIn = (response: Buffer) => fromBinary(CheckDevicesResponseSchema, response).checks.filter((c) => c.status !== DeviceStatus.PERMITTED).length;
    // Listed devices: a pool of LISTED_POOL batches spread over the whole table by a fixed stride,
    // warmed once so their finding attestations are signed and kept (the registry keeps 50,000):
    // the timed calls then measure the lookups, not the first signature of each device.
    const listedKeyAt = (n: number) => imeiOf(syntheticListedKey((n * 7_919) % rows));
    const poolSize = LISTED_POOL * options.batch;
    const listed = (n: number) => listedKeyAt(n % poolSize);
    const unlisted = (n: number) => imeiOf(unlistedKeyNear((n * 7_919 + 1) % rows, rows));
    const batchOf = (imei: (n: number) => string, call: number) =>
      Buffer.from(toBinary(CheckDevicesRequestSchema, create(CheckDevicesRequestSchema, { imeis: Array.from({ length: options.batch }, (_, i) => imei(call * options.batch + i)), purpose: "BENCH-SCALE" })));
    // Single checks alternate a listed device of the pool and an unlisted one.
    const single = (n: number) =>
      Buffer.from(toBinary(CheckDeviceRequestSchema, create(CheckDeviceRequestSchema, { imei: n % 2 === 0 ? listed(n * 13) : unlisted(700_000 + n), purpose: "BENCH-SCALE" })));
    for (let c = 0; c < LISTED_POOL; c++) {
      const found = listedIn(await call(CHECK_DEVICES, batchOf(listed, c)));
      if (found !== options.batch) throw new Error(`a batch of listed devices found ${found} of ${options.batch} listed`);
    }
    for (let c = 0; c < 5; c++) {
      const found = listedIn(await call(CHECK_DEVICES, batchOf(unlisted, c)));
      if (found !== 0) throw new Error(`a batch of unlisted devices found ${found} listed`);
    }
    const seqBefore = await seqScansOf(admin, schema);

    const latencies: number[] = [];
    for (let c = 0; c < options.singleCalls; c++) {
      const request = single(c);
      const started = process.hrtime.bigint();
      await call(CHECK_DEVICE, request);
      latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
    }

    const timeBatches = async (imei: (n: number) => string) => {
      const requests = Array.from({ length: options.batchCalls }, (_, c) => batchOf(imei, c));
      const cpuBefore = cpuSeconds(registry.pid);
      const postgresBefore = await backendCpu(admin, schema);
      const started = process.hrtime.bigint();
      for (const request of requests) await call(CHECK_DEVICES, request);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      return { checks: options.batchCalls * options.batch, seconds, cpu: cpuSeconds(registry.pid) - cpuBefore, postgresCpu: (await backendCpu(admin, schema)) - postgresBefore };
    };
    const clean = await timeBatches(unlisted);
    const all = await timeBatches(listed);
    // The registry's backends report their counters once idle, within a second.
    await new Promise((r) => setTimeout(r, 1_500));
    const seqScans = (await seqScansOf(admin, schema)) - seqBefore;
    return { latencies, unlisted: clean, listed: { checks: all.checks, seconds: all.seconds }, seqScans };
  } finally {
    grpc.close();
  }
}

interface SizeFigures {
  rows: number;
  import: ImportFigures;
  afterImport: CheckFigures;
  later: CheckFigures;
}

/** Writes the CSV of `rows` rows and imports it into a fresh schema. */
async function importSize(url: string, dir: string, schema: string, rows: number, admin: pg.Client): Promise<ImportFigures> {
  const file = join(dir, `gb-${rows}.csv`);
  await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  try {
    log(`writing ${rows.toLocaleString("en")} rows of CSV ...`);
    await writeCsv(file, rows);
    log(`${(statSync(file).size / 2 ** 20).toFixed(0)} MB of CSV; importing ...`);
    return await importFile(url, schema, file, rows, admin);
  } finally {
    rmSync(file, { force: true });
  }
}

/**
 * Rounds of checks against the two registries in turn (small, large, small,
 * ...), so a change in the machine's load weighs on both alike.
 */
async function alternate(
  registries: ReadonlyArray<{ registry: RegistryProcess; rows: number; schema: string }>,
  trust: TestTrust,
  options: Required<ScaleBenchOptions>,
  admin: pg.Client,
): Promise<CheckFigures[]> {
  const perRound = { ...options, singleCalls: Math.ceil(options.singleCalls / ROUNDS), batchCalls: Math.ceil(options.batchCalls / ROUNDS) };
  const rounds: CheckRound[][] = registries.map(() => []);
  for (let r = 0; r < ROUNDS; r++) {
    for (const [i, { registry, rows, schema }] of registries.entries()) rounds[i]!.push(await measureChecks(registry, trust, rows, perRound, admin, schema));
  }
  return rounds.map(combine);
}

function checkFigures(when: string, batch: number, big: SizeFigures, small: SizeFigures, pick: (s: SizeFigures) => CheckFigures): BenchFigure[] {
  const b = pick(big);
  const s = pick(small);
  const of = (n: number) => n.toLocaleString("en");
  const at = (f: SizeFigures) => `${of(f.rows)} rows`;
  return [
    ratioFigure(`CheckDevice p50 at ${at(big)}, ${when}`, b.p50Ms, "ms", { name: `p50 at ${at(small)}`, value: s.p50Ms, unit: "ms" }, { text: "<= 1.2x", met: (r) => r <= 1.2 }),
    ratioFigure(`CheckDevice p99 at ${at(big)}, ${when}`, b.p99Ms, "ms", { name: `p99 at ${at(small)}`, value: s.p99Ms, unit: "ms" }, { text: "<= 1.2x", met: (r) => r <= 1.2 }),
    ratioFigure(`CheckDevices ${of(batch)} unlisted a call at ${at(big)}, ${when}`, b.unlistedPerSecond, "checks/s", { name: `same at ${at(small)}`, value: s.unlistedPerSecond, unit: "checks/s" }, {
      text: ">= 0.83x (within 1.2x)",
      met: (r) => r >= 1 / 1.2,
    }),
    ratioFigure(`CheckDevices ${of(batch)} listed a call at ${at(big)}, ${when}`, b.listedPerSecond, "checks/s", { name: `same at ${at(small)}`, value: s.listedPerSecond, unit: "checks/s" }, {
      text: ">= 0.5x",
      met: (r) => r >= 0.5,
    }),
    { name: `registry CPU per unlisted check at ${at(big)}, ${when} (at ${at(small)}: ${s.unlistedCpuUs.toFixed(2)} µs)`, value: b.unlistedCpuUs, unit: "µs" },
    { name: `registry's PostgreSQL CPU per unlisted check at ${at(big)}, ${when} (at ${at(small)}: ${s.unlistedPostgresCpuUs.toFixed(2)} µs)`, value: b.unlistedPostgresCpuUs, unit: "µs" },
    { name: `sequential scans of records while checking at ${at(big)}, ${when} (at ${at(small)}: ${s.seqScans})`, value: b.seqScans, unit: "scans" },
  ];
}

/** Runs the suite; see the module comment. */
export async function scaleSuite(options: ScaleBenchOptions = {}): Promise<BenchSuite> {
  const o: Required<ScaleBenchOptions> = {
    rows: options.rows ?? 10_000_000,
    baselineRows: options.baselineRows ?? 100_000,
    singleCalls: options.singleCalls ?? 2_000,
    batchCalls: options.batchCalls ?? 40,
    batch: options.batch ?? 5_000,
  };
  const url = process.env.IMEIFED_BENCH_POSTGRES ?? "postgres://postgres@127.0.0.1:5432/test";
  const loadBefore = loadavg()[0]!;
  const dir = await mkdtemp(join(tmpdir(), "imeifed-bench-scale-"));
  const trust = await createTestTrust();
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  const schemas: string[] = [];
  const registries: RegistryProcess[] = [];
  try {
    const sizes = [o.baselineRows, o.rows].map((rows) => ({ rows, schema: `bench_scale_${rows}_${process.pid}` }));
    schemas.push(...sizes.map((s) => s.schema));
    const imports: ImportFigures[] = [];
    for (const { rows, schema } of sizes) imports.push(await importSize(url, dir, schema, rows, admin));
    for (const { schema } of sizes) registries.push(await spawnRegistryProcess({ country: "GB", trust, db: { postgres: url, schema } }));
    const running = sizes.map((size, i) => ({ ...size, registry: registries[i]! }));
    const afterImport = await alternate(running, trust, o, admin);
    log(`right after the import: ${JSON.stringify(afterImport)}`);
    for (const { rows, schema } of sizes) {
      const started = Date.now();
      await admin.query(`VACUUM ANALYZE "${schema}".records, "${schema}".changes`);
      log(`${rows}: VACUUM ANALYZE took ${((Date.now() - started) / 1000).toFixed(1)} s`);
    }
    const later = await alternate(running, trust, o, admin);
    log(`after VACUUM ANALYZE: ${JSON.stringify(later)}`);
    const [small, big] = sizes.map(({ rows }, i): SizeFigures => ({ rows, import: imports[i]!, afterImport: afterImport[i]!, later: later[i]! })) as [SizeFigures, SizeFigures];
    const loadAfter = loadavg()[0]!;
    const of = (n: number) => n.toLocaleString("en");
    return {
      suite: "scale",
      figures: [
        ratioFigure(`PostgreSQL import of ${of(big.rows)} rows (10% dual SIM), imeifed registry import`, big.import.rowsPerSecond, "rows/s", { name: "the goal", value: 100_000, unit: "rows/s" }, {
          text: ">= 1x",
          met: (r) => r >= 1,
        }),
        { name: `import of ${of(small.rows)} rows, the same way`, value: small.import.rowsPerSecond, unit: "rows/s" },
        {
          name: `CPU of the importing process per 1,000 rows, ${of(big.rows)} rows (${of(small.rows)} rows: ${small.import.importerCpuMsPerKRows.toFixed(0)} ms)`,
          value: big.import.importerCpuMsPerKRows,
          unit: "ms",
        },
        {
          name: `CPU of its PostgreSQL backends per 1,000 rows, ${of(big.rows)} rows (${of(small.rows)} rows: ${small.import.postgresCpuMsPerKRows.toFixed(0)} ms)`,
          value: big.import.postgresCpuMsPerKRows,
          unit: "ms",
        },
        { name: `peak RSS of the importing process, ${of(big.rows)} rows (${of(small.rows)} rows: ${small.import.peakRssMb.toFixed(0)} MB)`, value: big.import.peakRssMb, unit: "MB" },
        { name: `records table with indexes after ${of(big.rows)} rows`, value: big.import.recordsMb, unit: "MB" },
        { name: `changes table with indexes after ${of(big.rows)} rows`, value: big.import.changesMb, unit: "MB" },
        ...checkFigures("right after the import", o.batch, big, small, (s) => s.afterImport),
        ...checkFigures("after VACUUM ANALYZE", o.batch, big, small, (s) => s.later),
        { name: "1-minute load average before the suite (2 cores, shared)", value: loadBefore, unit: "" },
        { name: "1-minute load average after the suite", value: loadAfter, unit: "" },
      ],
    };
  } finally {
    for (const registry of registries) await registry.stop();
    for (const schema of schemas) await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    await admin.end();
    await trust.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}
