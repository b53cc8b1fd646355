/**
 * Manifests as customs hold them, screened for real: each file is written
 * here, then screened by `imeifed screen` as a child process and through the
 * gateway's gRPC Screen (the console's path: the reader's items on a
 * FederationService client), against registries that list some of its devices.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import ExcelJS from "exceljs";
import { ScreeningDecision, ScreeningOutcome, UnansweredPolicy, type ScreenRequestSchema, type ScreeningFinding, type ScreeningSummary } from "../../gen/imeifed/v1/federation_pb.js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { checkManifest, manifestBytes, manifestFile, manifestItemsOf, readManifest, type ManifestSource } from "../../manifest/index.js";
import { startTestRegistry } from "../support/registry-fixture.js";
import { imeiOf, startScreeningFederation, type ScreeningFederation } from "../screening/support/screening-federation.js";

const CLI = resolve(import.meta.dirname, "../../cli/bin.js");
/** Listed in BR: a single-SIM phone. */
const STOLEN_BR = imeiOf("35693803700020");
/** Listed in GB: a dual-SIM phone, both IMEIs on one report. */
const DUAL_GB = [imeiOf("35332011700038"), imeiOf("35332011700046")] as const;
const CLEAN = [imeiOf("35693803800010"), imeiOf("35693803800028"), imeiOf("35693803800036")] as const;

function imeifed(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 30_000 }, (error, stdout, stderr) => {
      done({ code: error ? (typeof error.code === "number" ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

describe("manifests as customs hold them, screened by imeifed screen and by gRPC Screen", function () {
  this.timeout(90_000);
  let fed: ScreeningFederation;
  let dir: string;
  let token: string;
  let deadGateway: string;

  before(async () => {
    fed = await startScreeningFederation({ countries: ["GB", "BR", "ES"], seed: { BR: [{ imeis: [STOLEN_BR] }], GB: [{ imeis: [...DUAL_GB] }] } });
    dir = await mkdtemp(join(tmpdir(), "imeifed-manifest-screen-"));
    token = join(dir, "customs-gb.token");
    await writeFile(token, (await fed.trust.token("customs-gb", { audience: "gateway", ttlSec: 900 })) + "\n");
    const gone = await startTestRegistry({ country: "US", trust: fed.trust });
    deadGateway = gone.registry.address;
    await gone.cleanup();
  });
  after(async () => {
    await fed?.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const screenArgs = (file: string, gateway = fed.gateway.address) => ["screen", file, "--destination", "HK", "--declaration", "DEC-MANIFEST", "--gateway", gateway, "--token", token];

  /** What the CLI wrote to its JSON report. */
  async function screenByCli(file: string): Promise<{ code: number; findings: { outcome: string; item: { deviceId: string; lineReference: string } }[]; itemsScreened: string; stderr: string }> {
    const report = join(dir, `${Math.random().toString(36).slice(2)}.json`);
    const run = await imeifed([...screenArgs(file), "--report", report]);
    assert.ok(run.code === 0 || run.code === 2, `exit ${run.code}: ${run.stderr}`);
    const json = JSON.parse(await readFile(report, "utf8")) as { findings: { outcome: string; item: { deviceId: string; lineReference: string } }[]; summary: { itemsScreened: string } };
    return { code: run.code, findings: json.findings, itemsScreened: json.summary.itemsScreened, stderr: run.stderr };
  }

  /** The console's path: the reader's items streamed to the gateway's Screen. */
  async function screenByGrpc(source: ManifestSource): Promise<{ findings: ScreeningFinding[]; summary: ScreeningSummary }> {
    await checkManifest(source);
    const client = fed.client("customs-gb");
    async function* requests(): AsyncGenerator<MessageInitShape<typeof ScreenRequestSchema>> {
      yield { message: { case: "shipment", value: { declarationReference: "DEC-GRPC", destinationCountry: "HK", onUnanswered: UnansweredPolicy.HOLD } } };
      for await (const batch of readManifest(source, { batchSize: 2 })) yield { message: { case: "items", value: { items: manifestItemsOf(batch) } } };
    }
    const findings: ScreeningFinding[] = [];
    let summary: ScreeningSummary | undefined;
    for await (const response of client.screen(requests())) {
      if (response.message.case === "finding") findings.push(response.message.value);
      if (response.message.case === "summary") summary = response.message.value;
    }
    assert.ok(summary, "a summary");
    return { findings, summary };
  }

  it("a semicolon CSV with a BOM, as a spreadsheet in a decimal-comma locale saves it", async () => {
    const path = join(dir, "semicolon.csv");
    await writeFile(path, `\ufeffRéf.;Marque;Modèle;IMEI\r\n1;Apple;iPhone 12;${CLEAN[0]}\r\n2;Apple;"iPhone 12; 64 GB";${STOLEN_BR}\r\n3;Apple;iPhone 12;${CLEAN[1]}\r\n`);
    const cli = await screenByCli(path);
    assert.equal(cli.code, 2);
    assert.equal(cli.itemsScreened, "3");
    assert.deepEqual(cli.findings.map((f) => [f.outcome, f.item.deviceId, f.item.lineReference]), [["SCREENING_OUTCOME_PROHIBITED", STOLEN_BR, "line 3"]]);
    assert.match(cli.stderr, /manifest: 3 devices, 3 IMEIs \(CSV separated by semicolons\)/);
    const grpc = await screenByGrpc(manifestFile(path));
    assert.equal(grpc.summary.decision, ScreeningDecision.HOLD);
    assert.deepEqual(grpc.findings.map((f) => [f.outcome, f.item?.deviceId, f.item?.lineReference, f.item?.declaredModel]), [[ScreeningOutcome.PROHIBITED, STOLEN_BR, "line 3", "iPhone 12; 64 GB"]]);
  });

  it("an Excel workbook written by exceljs, IMEIs as numbers and as text", async () => {
    const workbook = new ExcelJS.Workbook();
    const sheet = workbook.addWorksheet("Manifest");
    sheet.addRow(["Line", "Brand", "Model", "IMEI"]);
    sheet.addRow(["C-1", "Apple", "iPhone 12", Number(CLEAN[0])]);
    sheet.addRow(["C-2", "Apple", "iPhone 12", STOLEN_BR]);
    sheet.addRow(["C-3", "Xiaomi", "iPhone 12", CLEAN[2]]);
    const path = join(dir, "manifest.xlsx");
    await workbook.xlsx.writeFile(path);
    const cli = await screenByCli(path);
    assert.equal(cli.code, 2);
    assert.equal(cli.itemsScreened, "3");
    assert.deepEqual(cli.findings.map((f) => [f.outcome, f.item.deviceId, f.item.lineReference]), [
      ["SCREENING_OUTCOME_PROHIBITED", STOLEN_BR, "C-2"],
      // The TAC says Apple; the sheet says Xiaomi.
      ["SCREENING_OUTCOME_MODEL_MISMATCH", CLEAN[2], "C-3"],
    ]);
    assert.match(cli.stderr, /\(Excel workbook\)/);
    // The console receives the workbook as an upload: bytes and a name.
    const grpc = await screenByGrpc(manifestBytes("upload.xlsx", await readFile(path)));
    assert.deepEqual(grpc.findings.map((f) => [f.outcome, f.item?.lineReference]), [[ScreeningOutcome.PROHIBITED, "C-2"], [ScreeningOutcome.MODEL_MISMATCH, "C-3"]]);
  });

  it("a dual-SIM manifest: one line a device, both IMEIs screened, each listed IMEI found on its line", async () => {
    const path = join(dir, "dual.csv");
    // GB listed the phone by both IMEIs; the manifest's line 3 carries them as IMEI 1 and IMEI 2.
    await writeFile(path, `IMEI 1,IMEI 2,Make\n${CLEAN[0]},${CLEAN[1]},Apple\n${DUAL_GB[0]},${DUAL_GB[1]},Samsung\n${CLEAN[2]},,Apple\n`);
    const cli = await screenByCli(path);
    assert.equal(cli.code, 2);
    assert.equal(cli.itemsScreened, "5");
    assert.match(cli.stderr, /manifest: 3 devices, 5 IMEIs/);
    assert.deepEqual(cli.findings.map((f) => [f.outcome, f.item.deviceId, f.item.lineReference]), [
      ["SCREENING_OUTCOME_PROHIBITED", DUAL_GB[0], "line 3"],
      ["SCREENING_OUTCOME_PROHIBITED", DUAL_GB[1], "line 3"],
    ]);
    const grpc = await screenByGrpc(manifestFile(path));
    assert.equal(grpc.summary.itemsScreened, 5n);
    assert.deepEqual(grpc.findings.map((f) => f.item?.lineReference), ["line 3", "line 3"]);
  });

  it("a header the reader cannot map, and a broken line: refused whole with the line and the reason, nothing sent", async () => {
    const unmapped = join(dir, "serials.csv");
    await writeFile(unmapped, `Serial number;Brand\n${STOLEN_BR};Apple\n`);
    // A gateway where nothing listens: a manifest refusal, not a connection error, proves the file was refused before any call.
    const a = await imeifed(screenArgs(unmapped, deadGateway));
    assert.equal(a.code, 1);
    assert.match(a.stderr, /imeifed screen: .*serials\.csv: line 1: the header names no IMEI column \(found "Serial number", "Brand"\)/);
    assert.doesNotMatch(a.stderr, /UNAVAILABLE|unreachable|ECONNREFUSED/i);
    assert.equal(a.stdout, "");

    // The stolen phone comes first; the broken line comes last. Nothing is screened, so no tripwire fires either.
    const broken = join(dir, "broken.csv");
    await writeFile(broken, `IMEI,Make\n${STOLEN_BR},Apple\n${CLEAN[0]},Apple\n${CLEAN[1]},Apple,iPhone,12\n`);
    const b = await imeifed(screenArgs(broken, deadGateway));
    assert.equal(b.code, 1);
    assert.match(b.stderr, /broken\.csv: line 4: 4 fields where the header has 2/);
    const live = await imeifed(screenArgs(broken));
    assert.equal(live.code, 1);
    assert.match(live.stderr, /line 4/);
    assert.doesNotMatch(live.stderr, /screening: /);
    await assert.rejects(screenByGrpc(manifestFile(broken)), /line 4: 4 fields/);
  });
});
