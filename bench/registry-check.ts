/**
 * The registry's CheckDevices in isolation (issue 7's cold screening is bound
 * by it): a registry process answering batches of 5,000 IMEIs (mostly
 * unlisted, a few listed), in checks per second and in the registry's CPU
 * microseconds per check, against the in-process store lookup of the same
 * keys (parse + `openRecords`) as the baseline.
 *
 * The registry runs as a child process (as in production), so its CPU is
 * measured alone (/proc); this process sends one pre-encoded request over a
 * raw grpc-js client and does not decode the answers, so it costs the
 * registry nothing but its own work. One call in flight: the figure is the
 * registry's cost per check, not a throughput under concurrency.
 */
import { rmSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client as GrpcClient, credentials, Metadata } from "@grpc/grpc-js";
import { create, toBinary } from "@bufbuild/protobuf";
import { luhnCheckDigit, parseDevice, type DeviceKey } from "../device/index.js";
import { CheckDevicesRequestSchema } from "../gen/imeifed/v1/registry_pb.js";
import { DEFAULT_CHANNEL_OPTIONS } from "../rpc/index.js";
import type { ImportRow } from "../services/registry/store/registry-store.js";
import { openSqliteStore } from "../services/registry/store/sqlite-store.js";
import { spawnRegistryProcess, type RegistryProcess } from "../test/support/registry-fixture.js";
import { createTestTrust } from "../test/support/trust-fixture.js";
import { ratioFigure, type BenchSuite } from "./figure.js";
import { cpuSeconds } from "./process-cpu.js";
import { storeReport } from "../test/support/registry-fixture.js";

const CHECK_DEVICES = "/imeifed.v1.RegistryService/CheckDevices";

export interface RegistryCheckBenchOptions {
  /** IMEIs per CheckDevices call (default 5,000). */
  batch?: number;
  /** Listed devices in the registry (default 100,000). */
  listed?: number;
  /** Listed devices in each batch (default 5). */
  listedPerBatch?: number;
  /** Calls measured (default 200). */
  calls?: number;
  /** Calls before measuring, to warm the registry's JIT and SQLite pages (default 20; 0 measures a cold registry). */
  warmupCalls?: number;
}

/** The 15-digit IMEI of a 14-digit body. */
function imeiOf(body: string): string {
  return body + String(luhnCheckDigit(body));
}

/** Listed bodies live under TAC 35000000, unlisted ones under 35999999: they never collide. */
function listedBody(n: number): string {
  return `35000000${String(n).padStart(6, "0")}`;
}

async function* seedRows(count: number): AsyncGenerator<ImportRow> {
  for (let n = 0; n < count; n++) {
    yield {
      line: n + 2,
      report: storeReport(listedBody(n), { caseReference: `BENCH-GB-${n}`, sourceReasonCode: "0011", make: "Acme", model: "Phone", crimeReference: `CR/${n}` }),
    };
  }
}


/** Runs the suite; see the module comment. */
export async function registryCheckSuite(options: RegistryCheckBenchOptions = {}): Promise<BenchSuite> {
  const batch = options.batch ?? 5_000;
  const listed = options.listed ?? 100_000;
  const listedPerBatch = options.listedPerBatch ?? 5;
  const calls = options.calls ?? 200;
  const log = (line: string) => console.error(`registry-check: ${line}`);
  const dir = await mkdtemp(join(tmpdir(), "imeifed-bench-registry-check-"));
  const trust = await createTestTrust();
  const db = join(dir, "gb.sqlite");
  let registry: RegistryProcess | undefined;
  let client: GrpcClient | undefined;
  try {
    const seedStore = await openSqliteStore({ path: db });
    await seedStore.importReports(seedRows(listed));
    await seedStore.close();

    // Each call asks about other devices (a screening never repeats a manifest), from a pool of 8 batches.
    const batches: string[][] = [];
    for (let b = 0; b < 8; b++) {
      const imeis: string[] = [];
      const every = Math.floor(batch / listedPerBatch);
      for (let i = 0; i < batch; i++) {
        const n = b * batch + i;
        imeis.push(imeiOf(i % every === 0 ? listedBody((n * 7919) % listed) : `35999999${String(n).padStart(6, "0")}`));
      }
      batches.push(imeis);
    }

    // Baseline: the same keys looked up in process, in the same store.
    const store = await openSqliteStore({ path: db });
    let baselineChecks = 0;
    let baselineHits = 0;
    const baselineStarted = process.hrtime.bigint();
    for (let c = 0; c < calls; c++) {
      const imeis = batches[c % batches.length]!;
      const keys = new Array<DeviceKey>(imeis.length);
      for (let i = 0; i < imeis.length; i++) {
        const parsed = parseDevice(imeis[i]!);
        if (!parsed.ok) throw parsed.error;
        keys[i] = parsed.device.key;
      }
      baselineHits += (await store.openRecords(keys)).size;
      baselineChecks += imeis.length;
    }
    const baselineSeconds = Number(process.hrtime.bigint() - baselineStarted) / 1e9;
    await store.close();
    if (baselineHits !== (calls * listedPerBatch)) log(`note: ${baselineHits} listed hits in the baseline, expected ${calls * listedPerBatch}`);

    registry = await spawnRegistryProcess({ country: "GB", trust, db: { sqlite: db }, args: ["--batch-limit", String(Math.max(batch, 10_000))] });
    const requests = batches.map((imeis) => Buffer.from(toBinary(CheckDevicesRequestSchema, create(CheckDevicesRequestSchema, { imeis, purpose: "BENCH-REGISTRY-CHECK" }))));
    const grpc = (client = new GrpcClient(registry.address, credentials.createInsecure(), DEFAULT_CHANNEL_OPTIONS));
    const metadataOf = trust.metadataFor("gateway", "registry-gb");
    const metadata = new Metadata();
    metadata.set("authorization", (await metadataOf()).authorization);
    let bytesIn = 0;
    const call = (request: Buffer) =>
      new Promise<void>((resolve, reject) => {
        grpc.makeUnaryRequest<Buffer, Buffer>(CHECK_DEVICES, (b) => b, (b) => b, request, metadata, { deadline: Date.now() + 30_000 }, (error, response) => {
          if (error) reject(error);
          else {
            bytesIn += response!.length;
            resolve();
          }
        });
      });
    /** Registry CPU seconds and wall seconds of `count` calls cycling through `pool`. */
    const measure = async (pool: readonly Buffer[], count: number) => {
      const cpuBefore = cpuSeconds(registry!.pid);
      const started = process.hrtime.bigint();
      for (let c = 0; c < count; c++) await call(pool[c % pool.length]!);
      return { seconds: Number(process.hrtime.bigint() - started) / 1e9, cpu: cpuSeconds(registry!.pid) - cpuBefore };
    };
    // Warm-up: the registry's JIT, its SQLite pages, the token cache.
    for (let c = 0; c < (options.warmupCalls ?? 20); c++) await call(requests[c % requests.length]!);
    bytesIn = 0;
    const big = await measure(requests, calls);
    const checks = calls * batch;
    log(`${checks} checks in ${big.seconds.toFixed(2)} s; registry CPU ${big.cpu.toFixed(2)} s; ${Math.round(bytesIn / calls)} response bytes a call`);
    // Calls of 1,000 IMEIs (a Screen message's worth, before the gateway gathered them into 5,000): the per-call cost weighs 5x more.
    const smallBatch = Math.min(1_000, batch);
    const smallRequests = batches.map((imeis) => Buffer.from(toBinary(CheckDevicesRequestSchema, create(CheckDevicesRequestSchema, { imeis: imeis.slice(0, smallBatch), purpose: "BENCH-REGISTRY-CHECK" }))));
    const smallCalls = Math.round((calls * batch) / smallBatch);
    const small = await measure(smallRequests, smallCalls);
    log(`${smallCalls * smallBatch} checks in ${small.seconds.toFixed(2)} s in calls of ${smallBatch}; registry CPU ${small.cpu.toFixed(2)} s`);
    // What a screening gateway sends: the same batches asking for sparse answers (listed devices only).
    const sparseRequests = batches.map((imeis) => Buffer.from(toBinary(CheckDevicesRequestSchema, create(CheckDevicesRequestSchema, { imeis, purpose: "BENCH-REGISTRY-CHECK", listedOnly: true }))));
    bytesIn = 0;
    const sparse = await measure(sparseRequests, calls);
    log(`${checks} checks in ${sparse.seconds.toFixed(2)} s with sparse answers; registry CPU ${sparse.cpu.toFixed(2)} s; ${Math.round(bytesIn / calls)} response bytes a call`);

    const baseline = { name: "in-process store lookup of the same keys (parse + openRecords)", value: baselineChecks / baselineSeconds, unit: "checks/s" };
    return {
      suite: "registry-check",
      figures: [
        ratioFigure(`CheckDevices, ${batch.toLocaleString("en")} IMEIs a call (${listedPerBatch} listed), 1 in flight, registry process`, checks / big.seconds, "checks/s", baseline),
        { name: `registry process CPU per check, ${batch.toLocaleString("en")} IMEIs a call`, value: (big.cpu * 1e6) / checks, unit: "µs" },
        { name: `registry process CPU per check, ${smallBatch.toLocaleString("en")} IMEIs a call`, value: (small.cpu * 1e6) / (smallCalls * smallBatch), unit: "µs" },
        { name: `registry process CPU per check, ${batch.toLocaleString("en")} IMEIs a call, sparse answers (listed_only: what screening asks)`, value: (sparse.cpu * 1e6) / checks, unit: "µs" },
        { name: "in-process store lookup CPU per check (the baseline)", value: (baselineSeconds * 1e6) / baselineChecks, unit: "µs" },
      ],
    };
  } finally {
    client?.close();
    await registry?.stop();
    await trust.cleanup();
    rmSync(dir, { recursive: true, force: true });
  }
}
