/**
 * The manifest reader on real files written here: CSV as spreadsheets in
 * different locales save it, Excel workbooks written by exceljs, dual-SIM
 * manifests, and files it must refuse whole, with the line and the reason.
 */
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import ExcelJS from "exceljs";
import { checkManifest, manifestBytes, manifestFile, manifestItemsOf, manifestStream, readManifest, ManifestRefusal, type ManifestDevice, type ManifestSource } from "../../manifest/index.js";
import { Code } from "../../errors/index.js";

async function devicesOf(source: ManifestSource, batchSize = 1_000): Promise<ManifestDevice[][]> {
  const batches: ManifestDevice[][] = [];
  for await (const batch of readManifest(source, { batchSize })) batches.push(batch);
  return batches;
}

/** Asserts that the manifest is refused, at `line`, with a problem matching `problem`. */
async function refused(source: ManifestSource, line: number | undefined, problem: RegExp): Promise<ManifestRefusal> {
  let caught: unknown;
  try {
    await checkManifest(source);
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof ManifestRefusal, `expected a refusal, got ${String(caught)}`);
  assert.equal(caught.code, Code.INVALID_ARGUMENT);
  assert.equal(caught.reason, "BAD_MANIFEST");
  assert.equal(caught.line, line, caught.message);
  assert.match(caught.problem, problem);
  assert.ok(caught.message.startsWith(`${source.name}: ${line === undefined ? "" : `line ${line}: `}`), caught.message);
  return caught;
}

describe("the manifest reader", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "imeifed-manifest-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const file = async (name: string, content: string | Uint8Array) => {
    const path = join(dir, name);
    await writeFile(path, content);
    return manifestFile(path, name);
  };

  it("reads a semicolon CSV with a byte-order mark and customs' own column names", async () => {
    const source = await file("douane.csv", "\ufeffN° ligne;Marca;Modèle;IMEI\r\nL-1;Apple;\"iPhone 12; 128 GB\";356938035643809\r\nL-2;SAMSUNG;Galaxy S21;35693803564381\r\n");
    const check = await checkManifest(source);
    assert.deepEqual(check.format, { kind: "delimited", separator: ";" });
    assert.equal(check.devices, 2);
    assert.deepEqual(check.columns, { make: "Marca", model: "Modèle", imei: "IMEI" });
    const [batch] = await devicesOf(source);
    assert.deepEqual(
      batch!.map((d) => [d.imeis, d.make, d.model, d.lineReference, d.line]),
      [
        [["356938035643809"], "Apple", "iPhone 12; 128 GB", "line 2", 2],
        [["35693803564381"], "SAMSUNG", "Galaxy S21", "line 3", 3],
      ],
    );
  });

  it("matches headers without regard to case, spaces or punctuation, and detects commas and tabs", async () => {
    const commas = await file("c.csv", "Line_Reference, Device-ID ,BRAND\nA-7,356938035643809,Apple\n");
    const [c] = await devicesOf(commas);
    assert.deepEqual(c!.map((d) => [d.lineReference, d.imeis[0], d.make]), [["A-7", "356938035643809", "Apple"]]);
    const tabs = await file("t.tsv", "imei\tmodel\n356938035643809\tiPhone, blue\n");
    assert.deepEqual((await checkManifest(tabs)).format, { kind: "delimited", separator: "\t" });
    const [t] = await devicesOf(tabs);
    assert.equal(t![0]!.model, "iPhone, blue");
    // Excel's `sep=` hint line names the separator and is not the header.
    const hinted = await file("h.csv", "sep=;\nIMEI;Make\n356938035643809;Apple\n");
    const [h] = await devicesOf(hinted);
    assert.deepEqual(h!.map((d) => [d.imeis[0], d.make, d.line]), [["356938035643809", "Apple", 3]]);
  });

  it("reads a dual-SIM manifest as one device with two IMEIs, screened as two items on one line", async () => {
    const source = await file("dual.csv", "IMEI 1,IMEI 2,Make\n356938035643809,356938035643817,Apple\n35693803564381,,Apple\n356938035643825,356938035643825,Apple\n");
    const check = await checkManifest(source);
    assert.equal(check.devices, 3);
    assert.equal(check.imeis, 4);
    const [batch] = await devicesOf(source);
    assert.deepEqual(batch!.map((d) => d.imeis), [["356938035643809", "356938035643817"], ["35693803564381"], ["356938035643825"]]);
    const items = manifestItemsOf(batch!);
    assert.deepEqual(items.map((i) => [i.deviceId, i.lineReference]), [
      ["356938035643809", "line 2"],
      ["356938035643817", "line 2"],
      ["35693803564381", "line 3"],
      ["356938035643825", "line 4"],
    ]);
  });

  it("reads the first worksheet of an Excel workbook written by exceljs: numbers, text, formulas, rich text", async () => {
    const workbook = new ExcelJS.Workbook();
    const sheet = workbook.addWorksheet("Manifest");
    sheet.addRow(["Line Ref", "IMEI", "IMEI 2", "Brand", "Model"]);
    sheet.addRow(["X-1", 356938035643809, "", "Apple", "iPhone 12"]);
    sheet.addRow(["X-2", "35693803564381", { formula: "\"356938035643817\"", result: "356938035643817" }, { richText: [{ text: "Sam" }, { text: "sung" }] }, "Galaxy"]);
    sheet.addRow([]);
    sheet.addRow(["X-4", "356938035643825", null, "Apple", null]);
    workbook.addWorksheet("Notes").addRow(["not", "a", "manifest"]);
    const path = join(dir, "manifest.xlsx");
    await workbook.xlsx.writeFile(path);
    const source = manifestFile(path, "manifest.xlsx");
    const check = await checkManifest(source);
    assert.deepEqual(check.format, { kind: "xlsx" });
    assert.equal(check.devices, 3);
    const [batch] = await devicesOf(source);
    assert.deepEqual(
      batch!.map((d) => [d.lineReference, d.imeis, d.make, d.model, d.line]),
      [
        ["X-1", ["356938035643809"], "Apple", "iPhone 12", 2],
        ["X-2", ["35693803564381", "356938035643817"], "Samsung", "Galaxy", 3],
        ["X-4", ["356938035643825"], "Apple", "", 5],
      ],
    );
    // The same workbook as uploaded bytes (the console's path), and without a line reference column.
    const bytes = await readFile(path);
    assert.equal((await checkManifest(manifestBytes("upload.xlsx", bytes))).devices, 3);
    const plain = new ExcelJS.Workbook();
    plain.addWorksheet("S").addRows([["imei"], ["356938035643809"]]);
    const plainPath = join(dir, "plain.xlsx");
    await plain.xlsx.writeFile(plainPath);
    const [p] = await devicesOf(manifestFile(plainPath));
    assert.equal(p![0]!.lineReference, "row 2");
  });

  it("refuses a header it cannot map, naming what it found and what it accepts", async () => {
    const refusal = await refused(await file("serials.csv", "serial;brand\n356938035643809;Apple\n"), 1, /names no IMEI column \(found "serial", "brand"\).*"IMEI".*"IMEI 2"/);
    assert.match(refusal.message, /^serials\.csv: line 1: /);
    await refused(await file("twice.csv", "IMEI,device_id\n1,2\n"), 1, /"IMEI" and "device_id" both name the device's IMEI/);
    await refused(await file("second.csv", "IMEI 2,Make\n1,Apple\n"), 1, /second IMEI column but no first/);
    const workbook = new ExcelJS.Workbook();
    workbook.addWorksheet("S").addRows([["Serial", "Brand"], ["1", "Apple"]]);
    const path = join(dir, "serials.xlsx");
    await workbook.xlsx.writeFile(path);
    await refused(manifestFile(path, "serials.xlsx"), 1, /names no IMEI column \(found "Serial", "Brand"\)/);
  });

  it("refuses a broken line whole, naming it: a quote never closed, more fields than the header, text not UTF-8", async () => {
    const lines = ["IMEI;Make", "356938035643809;Apple", "356938035643817;\"Apple", ...Array.from({ length: 50 }, () => "356938035643825;Apple")];
    await refused(await file("quote.csv", lines.join("\n") + "\n"), 3, /(never closed|longer than)/);
    await refused(await file("fields.csv", "IMEI;Make\n356938035643809;Apple\n356938035643817;Apple;iPhone;12\n"), 3, /4 fields where the header has 2; .*double quotes/);
    const latin1 = Buffer.concat([Buffer.from("IMEI;Make\n356938035643809;"), Buffer.from([0x4d, 0xe9, 0x74, 0x6f]), Buffer.from("\n")]);
    await refused(await file("latin1.csv", latin1), 2, /not UTF-8.*CSV UTF-8/);
    await refused(await file("control.csv", "IMEI,Make\n356938035643809,\"App\u0007le\"\n"), 2, /make .* control character/);
    await refused(await file("long.csv", `IMEI,Make\n${"3".repeat(65)},Apple\n`), 2, /IMEI .* longer than 64/);
  });

  it("refuses files that are not manifests: empty, header only, an .xls workbook, a damaged .xlsx, a missing file", async () => {
    await refused(await file("empty.csv", ""), undefined, /empty/);
    await refused(await file("blank.csv", "\n\n"), undefined, /empty/);
    await refused(await file("header.csv", "IMEI,Make\n"), undefined, /no devices/);
    await refused(await file("old.xls", Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1, 0, 0])), undefined, /Excel 97-2003.*\.xlsx/);
    await refused(await file("fake.xlsx", "IMEI\n356938035643809\n"), undefined, /not one/);
    await refused(await file("broken.xlsx", Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04]), Buffer.alloc(200, 7)])), undefined, /Excel workbook/);
    await refused(manifestFile(join(dir, "nope.csv"), "nope.csv"), undefined, /ENOENT/);
  });

  it("reads a stream once, and refuses a second pass with a message saying why", async () => {
    const source = manifestStream(
      "s.csv",
      (async function* () {
        yield new TextEncoder().encode("IMEI\n3569380356");
        yield new TextEncoder().encode("43809\n");
      })(),
    );
    const [batch] = await devicesOf(source);
    assert.deepEqual(batch!.map((d) => d.imeis[0]), ["356938035643809"]);
    assert.throws(() => source.open(), /read once/);
  });

  it("streams a large manifest: it reads only as far as the batch asked for, and a broken quote stops it early", async function () {
    this.timeout(60_000);
    const rows = 300_000;
    const lines = ["Make;IMEI"];
    for (let i = 0; i < rows; i++) lines.push(`Apple;35693803${String(i).padStart(6, "0")}`);
    const text = lines.join("\n");
    const source = await file("large.csv", text);
    const progress = { bytesRead: 0, devicesRead: 0 };
    const batches = readManifest(source, { batchSize: 5_000, progress });
    const first = await batches.next();
    assert.equal(first.done, false);
    assert.equal((first.value as ManifestDevice[]).length, 5_000);
    // One 256 KiB chunk or two, not the ${text.length}-byte file.
    assert.ok(progress.bytesRead <= 512 * 1024, `read ${progress.bytesRead} bytes for the first batch`);
    let seen = 5_000;
    for await (const batch of batches) seen += batch.length;
    assert.equal(seen, rows);
    assert.equal(progress.devicesRead, rows);
    assert.equal(progress.bytesRead, Buffer.byteLength(text));

    // A quote opened on line 3 and never closed: refused there once the field passes its bound, not at the end of the file.
    lines[3] = `"Apple;${lines[3]!.split(";")[1]}`;
    const broken = await file("broken-quote.csv", lines.join("\n"));
    const reading = { bytesRead: 0, devicesRead: 0 };
    await assert.rejects(checkManifest(broken, reading), (e: unknown) => e instanceof ManifestRefusal && e.line === 4 && /longer than 4096/.test(e.problem));
    assert.ok(reading.bytesRead <= 512 * 1024, `read ${reading.bytesRead} bytes before refusing`);
  });
});
