import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { DeviceStatus, Reason } from "../../gen/imeifed/v1/device_pb.js";
import { Code, ImeifedError } from "../../errors/index.js";
import type { DeviceKey } from "../../device/index.js";
import { importCsv } from "../../services/registry/import/csv-import.js";
import type { RegistryStore } from "../../services/registry/store/registry-store.js";
import { openPostgresStore } from "../../services/registry/store/postgres-store.js";
import { TEST_POSTGRES_URL, testPostgresSchema } from "../support/registry-fixture.js";
import { createBackend, type TestBackend } from "./store-backends.js";
import { testDevice } from "./test-imeis.js";

const run = promisify(execFile);
const CLI = resolve(import.meta.dirname, "../../cli/bin.js");

const HEADER = "imei,status,reason,source_reason_code,agency,case_reference,occurred_at,make,model,crime_reference";
const A = testDevice(41);
const B = testDevice(42);
const C = testDevice(43);

function csv(...rows: string[]): string {
  return `${[HEADER, ...rows].join("\n")}\n`;
}

async function importError(store: RegistryStore, text: string): Promise<ImeifedError> {
  try {
    await importCsv(store, [text]);
  } catch (error) {
    assert.ok(error instanceof ImeifedError, String(error));
    return error;
  }
  assert.fail("the import should have failed");
}

for (const backendName of ["sqlite", "postgres"] as const) {
  describe(`CSV import (${backendName})`, function () {
    let backend: TestBackend;
    let store: RegistryStore;
    beforeEach(async () => {
      backend = await createBackend(backendName);
      store = await backend.open();
    });
    afterEach(async () => backend.cleanup());

    it("imports reports with dual-SIM devices, quoted cells, optional columns in any order and a BOM", async () => {
      const text =
        "\uFEFFcase_reference,agency,imei,status,reason,make,crime_reference,occurred_at\r\n" +
        `MET/1,police-gb,${A.imei},PROHIBITED,stolen,"Acme, Inc.",CR/1,2025-03-01T21:40:00Z\r\n` +
        `MET/2,police-gb,${B.imei} | ${C.imeisv},tracked,LOST,,,2025-03-02\r\n` +
        "\r\n";
      const summary = await importCsv(store, [text]);
      assert.deepEqual(summary, { rows: 2, created: 3, replays: 0, lastSequence: 3 });
      const open = await store.openRecords([A.key, B.key, C.key] as DeviceKey[]);
      const a = open.get(A.key as DeviceKey)![0]!;
      assert.deepEqual([a.status, a.reason, a.make, a.crimeReference, a.occurredAt], [DeviceStatus.PROHIBITED, Reason.STOLEN, "Acme, Inc.", "CR/1", Date.parse("2025-03-01T21:40:00Z")]);
      const c = open.get(C.key as DeviceKey)![0]!;
      assert.deepEqual([c.status, c.caseReference, c.occurredAt], [DeviceStatus.TRACKED, "MET/2", Date.parse("2025-03-02T00:00:00Z")]);
      const changes = await store.changesAfter(0, 10);
      assert.deepEqual(changes.map((x) => x.deviceKey), [A.key, B.key, C.key]);
    });

    it("keeps backslashes and quotes in cells as they are", async () => {
      await importCsv(store, [csv(`${A.imei},PROHIBITED,STOLEN,0011,police-gb,MET\\1\\N,,"Acme ""\\t"" Inc",Phone\\,CR\\N`)]);
      const a = (await store.openRecords([A.key as DeviceKey])).get(A.key as DeviceKey)![0]!;
      assert.deepEqual([a.caseReference, a.make, a.model, a.crimeReference], ["MET\\1\\N", 'Acme "\\t" Inc', "Phone\\", "CR\\N"]);
    });

    it("counts rows already recorded as replays, so a file can be imported twice", async () => {
      const text = csv(`${A.imei},PROHIBITED,STOLEN,0011,police-gb,MET/1,,,,`, `${B.imei},PROHIBITED,STOLEN,0011,police-gb,MET/2,,,,`);
      await importCsv(store, [text]);
      const again = await importCsv(store, [text]);
      assert.deepEqual(again, { rows: 2, created: 0, replays: 2, lastSequence: 2 });
    });

    const badRows: Array<[string, string, RegExp]> = [
      ["a failed check digit", `${A.imei.slice(0, 14)}0,PROHIBITED,STOLEN,,police-gb,X,,,,`, /^line 3: column imei: fails the Luhn check/],
      ["the second IMEI of a pair", `${A.imei}|12345,PROHIBITED,STOLEN,,police-gb,X,,,,`, /^line 3: column imei \(IMEI 2 of 2\): has 5 digits/],
      ["an empty IMEI", `,PROHIBITED,STOLEN,,police-gb,X,,,,`, /^line 3: column imei: give at least one IMEI/],
      ["a status that is a reason", `${A.imei},STOLEN,STOLEN,,police-gb,X,,,,`, /^line 3: column status: "STOLEN" is not one of PROHIBITED, TRACKED/],
      ["a PERMITTED status", `${A.imei},PERMITTED,STOLEN,,police-gb,X,,,,`, /^line 3: column status: /],
      ["an unknown reason", `${A.imei},PROHIBITED,MISLAID,,police-gb,X,,,,`, /^line 3: column reason: "MISLAID" is not one of STOLEN, LOST/],
      ["a missing agency", `${A.imei},PROHIBITED,STOLEN,,,X,,,,`, /^line 3: column agency: is empty/],
      ["a missing case reference", `${A.imei},PROHIBITED,STOLEN,,police-gb,,,,,`, /^line 3: column case_reference: /],
      ["a date that is not ISO 8601", `${A.imei},PROHIBITED,STOLEN,,police-gb,X,01/03/2025,,,`, /^line 3: column occurred_at: "01\/03\/2025" is not an ISO 8601 date/],
      ["a day the month lacks", `${A.imei},PROHIBITED,STOLEN,,police-gb,X,2025-02-30,,,`, /^line 3: column occurred_at: .*not a date of the calendar/],
      ["a date in the future", `${A.imei},PROHIBITED,STOLEN,,police-gb,X,2999-01-01,,,`, /^line 3: column occurred_at: lies in the future/],
      ["too few cells", `${A.imei},PROHIBITED,STOLEN`, /^line 3: has 3 fields but the header has 10/],
      ["an unterminated quote", `${A.imei},PROHIBITED,STOLEN,,police-gb,"X,,,,`, /^line 3: a quoted field is never closed/],
    ];
    for (const [what, row, message] of badRows) {
      it(`stops at ${what}, naming the line, and keeps nothing`, async () => {
        const error = await importError(store, csv(`${B.imei},PROHIBITED,STOLEN,,police-gb,GOOD,,,,`, row, `${C.imei},PROHIBITED,STOLEN,,police-gb,AFTER,,,,`));
        assert.equal(error.code, Code.INVALID_ARGUMENT);
        assert.match(error.message, message);
        assert.equal(await store.lastSequence(), 0);
        assert.equal((await store.openRecords([B.key as DeviceKey])).size, 0);
      });
    }

    it("refuses a header with an unknown or missing column, and an empty file", async () => {
      assert.match((await importError(store, "imei,status,reason,agency,case_ref\n")).message, /^line 1: unknown column "case_ref"; the columns are imei, status/);
      assert.match((await importError(store, "imei,status,reason,agency\n")).message, /^line 1: the header lacks case_reference/);
      assert.match((await importError(store, "imei,imei,status,reason,agency,case_reference\n")).message, /^line 1: column imei appears twice/);
      assert.match((await importError(store, "")).message, /the file is empty; it needs a header row/);
    });
  });
}

describe("imeifed registry import (child process)", function () {
  let backend: TestBackend;
  beforeEach(async () => {
    backend = await createBackend("sqlite");
  });
  afterEach(async () => backend.cleanup());

  it("imports a file and reports what it did", async () => {
    const file = join(backend.dir, "gb.csv");
    writeFileSync(file, csv(`${A.imei}|${B.imei},PROHIBITED,STOLEN,0011,police-gb,MET/1,2025-03-01,,,CR/1`));
    const db = (backend.location as { sqlite: string }).sqlite;
    const { stdout } = await run(process.execPath, [CLI, "registry", "import", "--country", "GB", "--db", db, file]);
    assert.match(stdout, /imported 1 rows into the GB registry: 2 records created, 0 already recorded; last sequence 2 \(epoch [0-9a-f-]{36}\)/);
    const store = await backend.open();
    assert.equal((await store.openRecords([A.key, B.key] as DeviceKey[])).size, 2);
  });

  it("imports into PostgreSQL with --postgres and --schema", async () => {
    const { schema, drop } = testPostgresSchema();
    try {
      const file = join(backend.dir, "gb.csv");
      writeFileSync(file, csv(`${A.imei},PROHIBITED,STOLEN,0011,police-gb,MET/1,,,,`));
      const { stdout } = await run(process.execPath, [CLI, "registry", "import", "--country", "GB", "--postgres", TEST_POSTGRES_URL, "--schema", schema, file]);
      assert.match(stdout, /1 records created/);
      const store = await openPostgresStore({ url: TEST_POSTGRES_URL, schema });
      try {
        assert.equal((await store.openRecords([A.key as DeviceKey])).size, 1);
      } finally {
        await store.close();
      }
    } finally {
      await drop();
    }
  });

  it("exits 1 naming the bad line, and keeps nothing", async () => {
    const file = join(backend.dir, "bad.csv");
    writeFileSync(file, csv(`${A.imei},PROHIBITED,STOLEN,,police-gb,MET/1,,,,`, `${B.imei},PROHIBITED,STOLEN,,police-gb,MET/2,yesterday,,,`));
    const db = (backend.location as { sqlite: string }).sqlite;
    const failure = await run(process.execPath, [CLI, "registry", "import", "--country", "GB", "--db", db, file]).then(
      () => assert.fail("the import should fail"),
      (error: { code: number; stderr: string }) => error,
    );
    assert.equal(failure.code, 1);
    assert.match(failure.stderr, /imeifed registry import: line 3: column occurred_at: "yesterday" is not an ISO 8601 date/);
    const store = await backend.open();
    assert.equal(await store.lastSequence(), 0);
  });
});
