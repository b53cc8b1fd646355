import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create } from "@bufbuild/protobuf";
import { ScreeningFindingSchema, ScreeningOutcome, ScreeningSummarySchema, ScreeningDecision } from "../../gen/imeifed/v1/federation_pb.js";
import { openScreeningReport } from "../../gateway/screening/screening-report.js";
import { Code, ImeifedError } from "../../errors/index.js";
import { readCsvRecords } from "../../device/index.js";

describe("screening files: the report writer", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "imeifed-screening-files-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
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
