/**
 * The two store backends as the tests open them: a SQLite file in a fresh
 * temp dir, or a uniquely named schema in the machine's PostgreSQL (database
 * `test`), dropped afterwards so parallel test files never collide.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { openPostgresStore } from "../../services/registry/store/postgres-store.js";
import { openSqliteStore } from "../../services/registry/store/sqlite-store.js";
import type { RegistryStore } from "../../services/registry/store/registry-store.js";
import type { StoreLocation } from "../../services/registry/store/open-store.js";

import { TEST_POSTGRES_URL, testPostgresSchema } from "../support/registry-fixture.js";

export type BackendName = "sqlite" | "postgres";

/** A place for one test's registry data, which can open any number of stores on it (like several processes). */
export interface TestBackend {
  readonly name: BackendName;
  readonly location: StoreLocation;
  /** A temp dir that goes away with the backend. */
  readonly dir: string;
  open(): Promise<RegistryStore>;
  /** Runs SQL directly against the backend (to look at what was stored). */
  sql<T>(text: string, params?: unknown[]): Promise<T[]>;
  /** Closes every store opened here and removes the data. */
  cleanup(): Promise<void>;
}

export async function createBackend(name: BackendName): Promise<TestBackend> {
  const dir = mkdtempSync(join(tmpdir(), "imeifed-registry-"));
  const stores: RegistryStore[] = [];
  if (name === "sqlite") {
    const path = join(dir, "registry.sqlite");
    const Database = (await import("better-sqlite3")).default;
    return {
      name,
      dir,
      location: { sqlite: path },
      async open() {
        const store = await openSqliteStore({ path, pollMs: 50 });
        stores.push(store);
        return store;
      },
      async sql<T>(text: string, params: unknown[] = []) {
        const db = new Database(path, { readonly: false });
        try {
          const statement = db.prepare(text);
          return (statement.reader ? statement.all(...params) : (statement.run(...params), [])) as T[];
        } finally {
          db.close();
        }
      },
      async cleanup() {
        for (const store of stores) await store.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const { schema, drop } = testPostgresSchema();
  return {
    name,
    dir,
    location: { postgres: TEST_POSTGRES_URL, schema },
    async open() {
      const store = await openPostgresStore({ url: TEST_POSTGRES_URL, schema, poolSize: 4 });
      stores.push(store);
      return store;
    },
    async sql<T>(text: string, params: unknown[] = []) {
      const client = new pg.Client({ connectionString: TEST_POSTGRES_URL, options: `-c search_path=${schema}` });
      await client.connect();
      try {
        return (await client.query(text, params)).rows as T[];
      } finally {
        await client.end();
      }
    },
    async cleanup() {
      for (const store of stores) await store.close();
      await drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A valid device key built from a TAC and a serial number. */
export function keyOf(tac: string, serial: number): string {
  return `${tac}${String(serial).padStart(6, "0")}`;
}
