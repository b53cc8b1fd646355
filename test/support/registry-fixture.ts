/**
 * Real registries for tests: `startTestRegistry` runs one in this process
 * (SQLite in a temp dir, or a fresh PostgreSQL schema) on 127.0.0.1 port 0;
 * `spawnRegistryProcess` runs `imeifed registry serve` as a child process,
 * for kill -9, restart and several-processes tests. Everything they start,
 * `cleanup()` / `stop()` take down again (servers, processes, temp dirs,
 * schemas).
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { DeviceStatus, Reason } from "../../gen/imeifed/v1/device_pb.js";
import { RegistryService, type ReportDeviceResponse } from "../../gen/imeifed/v1/registry_pb.js";
import { createClient, type Client, type ServerInterceptor } from "../../rpc/index.js";
import type { Actor, Scope } from "../../trust/principal.js";
import { startRegistry, type RunningRegistry } from "../../services/registry/registry-server.js";
import type { RegistryConfigInput } from "../../services/registry/registry-config.js";
import type { TestTrust } from "./trust-fixture.js";
import { spawnServerProcess, type ServerProcess } from "./server-process.js";
import type { ReportInput } from "../../services/registry/store/registry-store.js";
import type { DeviceKey } from "../../device/index.js";

/** The machine's PostgreSQL (trust auth, database `test`). */
export const TEST_POSTGRES_URL = "postgres://postgres@127.0.0.1:5432/test";

/** A report to seed or send; everything but the IMEIs has a default. */
export interface TestReport {
  imeis: string[];
  /** The reporting agency's principal id; default `police-<country>`. */
  by?: string;
  status?: DeviceStatus;
  reason?: Reason;
  caseReference?: string;
  /** Default: a crime reference (a verified report); "" for an unverified one. */
  crimeReference?: string;
  sourceReasonCode?: string;
  occurredAt?: Date;
  make?: string;
  model?: string;
}

export interface TestRegistryOptions {
  /** ISO 3166-1 alpha-2; the registry's id is `registry-<country>`. */
  country: string;
  trust: TestTrust;
  db?: "sqlite" | "postgres";
  /** Reports written (through gRPC, as their agencies) before the registry is handed over. */
  seed?: TestReport[];
  /** Config fields to set (cacheMaxAgeSec, batchLimit, sharing, quotas, ...). */
  config?: Partial<RegistryConfigInput>;
  /** Extra server interceptors (for example a call counter). */
  interceptors?: ServerInterceptor[];
  /** The clock the registry's handlers read (a test moves it instead of sleeping). */
  now?: () => number;
}

export interface TestRegistry {
  readonly registry: RunningRegistry;
  /** The registry's principal id (`registry-gb`): the audience of its tokens. */
  readonly id: string;
  /** A typed client calling as `principalId` (closed by cleanup). */
  client(principalId: string, options?: { scopes?: Scope[]; act?: Actor }): Client<typeof RegistryService>;
  /** Reports a device through gRPC as its agency. */
  report(report: TestReport): Promise<ReportDeviceResponse>;
  /** Stops the registry and removes its data. */
  cleanup(): Promise<void>;
}

let caseCounter = 0;

/** The ReportDevice request of a TestReport. */
export function reportRequest(report: TestReport) {
  caseCounter++;
  return {
    imeis: report.imeis,
    status: report.status ?? DeviceStatus.PROHIBITED,
    reason: report.reason ?? Reason.STOLEN,
    sourceReasonCode: report.sourceReasonCode ?? "",
    caseReference: report.caseReference ?? `CASE-${process.pid}-${caseCounter}`,
    ...(report.occurredAt ? { occurredAt: timestampFromDate(report.occurredAt) } : {}),
    make: report.make ?? "",
    model: report.model ?? "",
    ...(report.crimeReference !== "" ? { verification: { crimeReference: report.crimeReference ?? `CR-${caseCounter}` } } : {}),
  };
}

/** A fresh PostgreSQL schema name and a function that drops it. */
export function testPostgresSchema(prefix = "t_registry"): { schema: string; drop(): Promise<void> } {
  const schema = `${prefix}_${process.pid}_${randomBytes(4).toString("hex")}`;
  return {
    schema,
    async drop() {
      const client = new pg.Client({ connectionString: TEST_POSTGRES_URL });
      await client.connect();
      try {
        await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await client.end();
      }
    },
  };
}

/** Starts a registry in this process; see the module comment. */
export async function startTestRegistry(options: TestRegistryOptions): Promise<TestRegistry> {
  const country = options.country.toUpperCase();
  const id = `registry-${country.toLowerCase()}`;
  const dir = mkdtempSync(join(tmpdir(), `imeifed-registry-${country.toLowerCase()}-`));
  const pgSchema = options.db === "postgres" ? testPostgresSchema() : undefined;
  const clients: Client<typeof RegistryService>[] = [];
  let registry: RunningRegistry | undefined;
  const cleanup = async () => {
    for (const c of clients) c.close();
    await registry?.shutdown(1_000);
    await pgSchema?.drop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    registry = await startRegistry({
      country,
      id,
      listen: "127.0.0.1:0",
      db: pgSchema ? { postgres: TEST_POSTGRES_URL, schema: pgSchema.schema } : { sqlite: join(dir, `${country.toLowerCase()}.sqlite`) },
      trust: options.trust.trust,
      ...options.config,
      ...(options.interceptors ? { interceptors: options.interceptors } : {}),
      ...(options.now ? { now: options.now } : {}),
    });
    const running = registry;
    const client = (principalId: string, clientOptions: { scopes?: Scope[]; act?: Actor } = {}) => {
      const c = createClient(RegistryService, running.address, {
        metadata: options.trust.metadataFor(principalId, id, clientOptions.scopes, clientOptions.act),
      });
      clients.push(c);
      return c;
    };
    const agencyClients = new Map<string, Client<typeof RegistryService>>();
    const report = (r: TestReport) => {
      const by = r.by ?? `police-${country.toLowerCase()}`;
      let c = agencyClients.get(by);
      if (!c) agencyClients.set(by, (c = client(by)));
      return c.reportDevice(reportRequest(r));
    };
    for (const r of options.seed ?? []) await report(r);
    return { registry: running, id, client, report, cleanup };
  } catch (error) {
    await cleanup().catch(() => {});
    throw error;
  }
}

export interface RegistryProcessOptions {
  country: string;
  trust: TestTrust;
  /** `{ sqlite: path }` or `{ postgres: url, schema }`; the caller owns (and removes) the data. */
  db: { sqlite: string } | { postgres: string; schema: string };
  /** Default 127.0.0.1:0; pass a previous run's address to restart on the same port. */
  listen?: string;
  /** More `registry serve` flags. */
  args?: string[];
}

export interface RegistryProcess extends ServerProcess {
  readonly epoch: string;
}

/** Runs `node cli/bin.js registry serve ...` and waits until it prints its address. */
export async function spawnRegistryProcess(options: RegistryProcessOptions): Promise<RegistryProcess> {
  const country = options.country.toUpperCase();
  const server = await spawnServerProcess(
    [
      "registry",
      "serve",
      "--country",
      country,
      "--trust",
      options.trust.trustFile,
      "--listen",
      options.listen ?? "127.0.0.1:0",
      ...("sqlite" in options.db ? ["--db", options.db.sqlite] : ["--postgres", options.db.postgres, "--schema", options.db.schema]),
      ...(options.args ?? []),
    ],
    "registry serving",
  );
  return { ...server, epoch: typeof server.serving.epoch === "string" ? server.serving.epoch : "" };
}

/**
 * A complete store-level report of one device (what ReportDevice or an import
 * hands the store), optional fields empty: tests and benchmarks that write to a
 * store directly override only what they care about.
 */
export function storeReport(deviceKey: string, overrides: Partial<ReportInput> = {}): ReportInput {
  return {
    agency: "police-gb",
    caseReference: `CASE-${deviceKey}`,
    deviceKeys: [deviceKey as DeviceKey],
    status: DeviceStatus.PROHIBITED,
    reason: Reason.STOLEN,
    sourceReasonCode: "",
    occurredAt: undefined,
    make: "",
    model: "",
    crimeReference: "",
    owner: undefined,
    ...overrides,
  };
}
