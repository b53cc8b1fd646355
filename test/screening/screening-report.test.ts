import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { ScreeningFindingSchema, ScreeningOutcome, ScreeningSummarySchema, ScreeningDecision } from "../../gen/imeifed/v1/federation_pb.js";
import { openScreeningReport } from "../../gateway/screening/screening-report.js";
import { readManifestBatches } from "../../gateway/screening/manifest-csv.js";
import { Code, ImeifedError } from "../../errors/index.js";
import { readCsvRecords } from "../../device/index.js";

describe("screening files: manifest reader and report writer", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "imeifed-screening-files-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("reads manifest columns in any order, in batches, defaulting the line reference to the CSV line", async () => {
    const path = join(dir, "m.csv");
    await writeFile(path, "\ufeffDeclared_Make,DEVICE_ID,other\nApple,356938030000037,x\n\n\"Sam, Sung\",  35693803000045 ,y\n,12,z\n");
    const progress = { bytesRead: 0, itemsRead: 0 };
    const batches = [];
    for await (const b of readManifestBatches(path, 2, progress)) batches.push(b.map((i) => [i.deviceId, i.declaredMake, i.lineReference]));
    assert.deepEqual(batches, [
      [
        ["356938030000037", "Apple", "line 2"],
        ["35693803000045", "Sam, Sung", "line 4"],
      ],
      [["12", "", "line 5"]],
    ]);
    assert.equal(progress.itemsRead, 3);
    assert.ok(progress.bytesRead > 0);
  });

  it("refuses a manifest without a device_id column or without any header", async () => {
    const noColumn = join(dir, "n.csv");
    await writeFile(noColumn, "imei\n356938030000037\n");
    const empty = join(dir, "e.csv");
    await writeFile(empty, "");
    const drain = async (p: string) => {
      for await (const _ of readManifestBatches(p, 10)) void _;
    };
    await assert.rejects(drain(noColumn), (e: unknown) => e instanceof ImeifedError && e.code === Code.INVALID_ARGUMENT && /device_id/.test(e.message));
    await assert.rejects(drain(empty), /empty/);
  });

  it("writes CSV rows a spreadsheet shows but does not run, and JSON with the summary", async () => {
    const finding = create(ScreeningFindingSchema, {
      outcome: ScreeningOutcome.MALFORMED,
      itemIndex: 7n,
      item: { deviceId: "=HYPERLINK(\"http://x\")", lineReference: "+L8", declaredMake: "@evil" },
      detail: "device_id: has 0 digits, \"quoted\"",
    });
    const csv = join(dir, "r.csv");
    const report = await openScreeningReport(csv);
    await report.finding(finding);
    await report.close({ summary: create(ScreeningSummarySchema, { itemsScreened: 8n, decision: ScreeningDecision.HOLD }) });
    const rows: string[][] = [];
    for await (const r of readCsvRecords([await readFile(csv, "utf8")])) rows.push(r.fields);
    assert.equal(rows.length, 2);
    assert.deepEqual(rows[1]!.slice(0, 5), ["7", "'+L8", "'=HYPERLINK(\"http://x\")", "MALFORMED", "device_id: has 0 digits, \"quoted\""]);
    assert.equal(rows[1]![6], "'@evil");

    const json = join(dir, "r.json");
    const jsonReport = await openScreeningReport(json);
    await jsonReport.finding(finding);
    await jsonReport.finding(finding);
    await jsonReport.close({ error: "the gateway went away" });
    const parsed = JSON.parse(await readFile(json, "utf8")) as { findings: unknown[]; error: string };
    assert.equal(parsed.findings.length, 2);
    assert.equal(parsed.error, "the gateway went away");
  });
});
