/**
 * The PostgreSQL store's lookups serve from the index on a table that has
 * never been analyzed (right after a bulk load), and a bulk import leaves the
 * tables analyzed. The plans are read with EXPLAIN in a session set up as the
 * store's are.
 */
import assert from "node:assert/strict";
import pg from "pg";
import type { DeviceKey } from "../../../device/index.js";
import { importCsv } from "../../../services/registry/import/csv-import.js";
import {
  OPEN_RECORDS_FOR_KEY,
  OPEN_RECORDS_FOR_KEYS,
  POSTGRES_SESSION_SETTINGS,
  RECORDS_BY_ID,
  RECORDS_FOR_KEYS,
} from "../../../services/registry/store/postgres-lookups.js";
import type { RegistryStore } from "../../../services/registry/store/registry-store.js";
import { TEST_POSTGRES_URL } from "../../support/registry-fixture.js";
import { createBackend, keyOf, type TestBackend } from "../store-backends.js";
import { testDevice } from "../test-imeis.js";

const ROWS = 200_000;
const BATCH = 5_000;

describe("PostgreSQL lookups without planner statistics", function () {
  this.timeout(60_000);
  let backend: TestBackend;
  let store: RegistryStore;
  let session: pg.Client;

  before(async () => {
    backend = await createBackend("postgres");
    store = await backend.open();
    const { schema } = backend.location as { schema: string };
    session = new pg.Client({ connectionString: TEST_POSTGRES_URL, options: `-c search_path=${schema} ${POSTGRES_SESSION_SETTINGS}` });
    await session.connect();
    // As a bulk load leaves it: many rows, no statistics (and no autovacuum to gather them meanwhile).
    await session.query("ALTER TABLE records SET (autovacuum_enabled = false)");
    await session.query(
      `INSERT INTO records (device_key, agency, case_reference, status, reason, source_reason_code, reported_at, make, model, crime_reference, reported_seq)
       SELECT '35693803' || lpad(g::text, 6, '0'), 'police-gb', 'CASE-' || g, 2, 1, '', 0, '', '', '', g FROM generate_series(1, $1) AS g`,
      [ROWS],
    );
    const { rows } = await session.query<{ reltuples: number }>("SELECT reltuples FROM pg_class WHERE oid = 'records'::regclass");
    assert.equal(rows[0]!.reltuples, -1, "the table must never have been analyzed");
  });

  after(async () => {
    await session?.end();
    await backend?.cleanup();
  });

  /** The plan of `query` for `values`, as text. */
  async function planOf(query: { text: string }, values: unknown[]): Promise<string> {
    const { rows } = await session.query<{ "QUERY PLAN": string }>(`EXPLAIN ${query.text}`, values);
    return rows.map((r) => r["QUERY PLAN"]).join("\n");
  }

  function assertServedByIndex(plan: string): void {
    assert.doesNotMatch(plan, /Seq Scan on records/, plan);
    assert.match(plan, /Index (Only )?Scan|Bitmap Index Scan/, plan);
    assert.doesNotMatch(plan, /JIT/, plan);
  }

  const keys = Array.from({ length: BATCH }, (_, i) => keyOf("35693803", i * 37 + 1));

  it("asks about a batch of keys through the index", async () => {
    assertServedByIndex(await planOf(OPEN_RECORDS_FOR_KEYS, [keys]));
    assertServedByIndex(await planOf(RECORDS_FOR_KEYS, [keys]));
    assertServedByIndex(await planOf(OPEN_RECORDS_FOR_KEY, [keys[0]]));
  });

  it("reads records by id through the primary key", async () => {
    assertServedByIndex(await planOf(RECORDS_BY_ID, [Array.from({ length: BATCH }, (_, i) => i * 37 + 1)]));
  });

  it("answers a batch with the listed keys once each, however often asked", async () => {
    const unlisted = Array.from({ length: BATCH - 3 }, (_, i) => keyOf("86012345", i));
    const asked = [keys[0]!, ...unlisted, keys[1]!, keys[0]!] as DeviceKey[];
    const open = await store.openRecords(asked);
    assert.deepEqual([...open.keys()].sort(), [keys[0], keys[1]].sort());
    assert.equal(open.get(keys[0] as DeviceKey)!.length, 1);
  });

  it("leaves the tables analyzed after a bulk import", async () => {
    const fresh: TestBackend = await createBackend("postgres");
    try {
      const importing = await fresh.open();
      const A = testDevice(41);
      await importCsv(importing, [`imei,status,reason,agency,case_reference\n${A.imei},PROHIBITED,STOLEN,police-gb,MET/1\n`]);
      const analyzed = await fresh.sql<{ relname: string; reltuples: number }>(
        "SELECT relname, reltuples FROM pg_class WHERE oid IN ('records'::regclass, 'changes'::regclass) ORDER BY relname",
      );
      assert.deepEqual(analyzed, [
        { relname: "changes", reltuples: 1 },
        { relname: "records", reltuples: 1 },
      ]);
    } finally {
      await fresh.cleanup();
    }
  });
});
