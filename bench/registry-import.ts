/**
 * Benchmark of the registry's bulk CSV import (issue 3: "a million rows in
 * well under a minute"): N synthetic rows, one in ten a dual-SIM device,
 * streamed as CSV text through the real import path (CSV reader, report
 * rules, store) into a fresh SQLite registry in a temp dir, removed after.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { luhnCheckDigit } from "../device/index.js";
import { importCsv } from "../services/registry/import/csv-import.js";
import pg from "pg";
import { openPostgresStore } from "../services/registry/store/postgres-store.js";
import { openSqliteStore } from "../services/registry/store/sqlite-store.js";
import type { RegistryStore } from "../services/registry/store/registry-store.js";
import type { BenchSuite } from "./figure.js";

const HEADER = "imei,status,reason,source_reason_code,agency,case_reference,occurred_at,make,model,crime_reference\n";
const ROWS_PER_CHUNK = 1_000;

function imeiOf(n: number): string {
  const body = `35693803${String(n).padStart(6, "0")}`;
  return body + String(luhnCheckDigit(body));
}

/** The device key of row `i`'s (first) IMEI. Serials wrap at a million; the TAC prefix keeps keys unique up to 10 million rows. */
export function syntheticListedKey(i: number): string {
  const n = i * 2;
  return `${35693803 + Math.floor(n / 1_000_000)}${String(n % 1_000_000).padStart(6, "0")}`;
}

/** Synthetic CSV text in chunks of ROWS_PER_CHUNK rows. */
export function* syntheticImportCsv(rows: number): Generator<string> {
  yield HEADER;
  for (let start = 0; start < rows; start += ROWS_PER_CHUNK) {
    let chunk = "";
    for (let i = start; i < Math.min(rows, start + ROWS_PER_CHUNK); i++) {
      const n = i * 2;
      const body = syntheticListedKey(i);
      const imei = body + String(luhnCheckDigit(body));
      const imeis = i % 10 === 0 ? `${imei}|${imeiOf((n + 1) % 1_000_000)}` : imei;
      const status = i % 7 === 0 ? "TRACKED" : "PROHIBITED";
      const day = String(1 + (i % 28)).padStart(2, "0");
      chunk += `${imeis},${status},STOLEN,0011,police-gb,BENCH-${i},2025-02-${day}T10:00:00Z,Acme,Phone ${i % 50},CR/${i}\n`;
    }
    yield chunk;
  }
}

async function rowsPerSecond(store: RegistryStore, rows: number): Promise<number> {
  const started = process.hrtime.bigint();
  const summary = await importCsv(store, syntheticImportCsv(rows));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (summary.rows !== rows) throw new Error(`imported ${summary.rows} rows, expected ${rows}`);
  return rows / seconds;
}

/** Imports `rows` synthetic rows into a temp SQLite registry; resolves to rows per second. */
export async function benchRegistryImport(rows = 1_000_000): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), "imeifed-bench-import-"));
  const store = await openSqliteStore({ path: join(dir, "bench.sqlite") });
  try {
    return await rowsPerSecond(store, rows);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The same into a throw-away schema of a PostgreSQL database (dropped afterwards); resolves to rows per second. */
export async function benchRegistryImportPostgres(url: string, rows = 1_000_000): Promise<number> {
  const schema = `bench_registry_import_${process.pid}`;
  const store = await openPostgresStore({ url, schema });
  try {
    return await rowsPerSecond(store, rows);
  } finally {
    await store.close();
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`).finally(() => client.end());
  }
}

/** The import figure against the goal (a million rows in under a minute, i.e. ≥ 16,667 rows/s). */
export async function registryImportSuite(rows = 1_000_000): Promise<BenchSuite> {
  const rowsPerSecond = await benchRegistryImport(rows);
  const goal = 1_000_000 / 60;
  return {
    suite: "registry import",
    figures: [
      {
        name: `CSV import into SQLite, ${rows} rows (10% dual SIM)`,
        value: Math.round(rowsPerSecond),
        unit: "rows/s",
        baseline: { name: "a million rows per minute", value: Math.round(goal), unit: "rows/s" },
        ratio: rowsPerSecond / goal,
        goal: ">= 1x (1M rows in well under a minute)",
        met: rowsPerSecond >= goal,
      },
    ],
  };
}
