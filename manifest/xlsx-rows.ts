/**
 * The rows of the first worksheet of an Excel workbook (.xlsx), read with
 * exceljs's streaming reader: rows are handed on as they are parsed, never
 * the whole sheet. What it does hold is the workbook's shared-string table
 * (exceljs resolves text cells through it), which grows with the number of
 * distinct texts, not of rows. Cells become the text a person sees: numbers
 * in full (a 15-digit IMEI fits a double exactly), formulas by their result,
 * rich text and hyperlinks by their text.
 */
import { Readable } from "node:stream";
import ExcelJS from "exceljs";
import type { CsvRecord } from "../device/csv-records.js";
import { ManifestRefusal } from "./manifest-refusal.js";

/** Rows handed on per batch: a reader of a million rows awaits once a batch, not once a row. */
const ROWS_PER_BATCH = 512;

/** The text of one cell as exceljs gives it. */
export function cellText(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number") return Number.isInteger(value) && Math.abs(value) < 1e21 ? value.toFixed(0) : String(value);
  if (typeof value === "boolean") return String(value);
  if (value instanceof Date) return value.toISOString();
  if (typeof value === "object") {
    const v = value as { richText?: { text?: string }[]; text?: unknown; result?: unknown; error?: string; formula?: string; sharedFormula?: string };
    if (Array.isArray(v.richText)) return v.richText.map((r) => r.text ?? "").join("");
    if (v.text !== undefined) return cellText(v.text);
    if (v.formula !== undefined || v.sharedFormula !== undefined) return cellText(v.result);
    if (typeof v.error === "string") return v.error;
  }
  return String(value);
}

/** The first worksheet's rows, numbered as the sheet numbers them. */
export async function* xlsxRows(fileName: string, head: Uint8Array[], rest: AsyncIterator<Uint8Array>): AsyncGenerator<CsvRecord[]> {
  const input = Readable.from(
    (async function* () {
      yield* head;
      for (let next = await rest.next(); !next.done; next = await rest.next()) yield next.value;
    })(),
    { objectMode: false },
  );
  const reader = new ExcelJS.stream.xlsx.WorkbookReader(input, { worksheets: "emit", sharedStrings: "cache", hyperlinks: "ignore", styles: "ignore", entries: "ignore" });
  let sheets = 0;
  try {
    for await (const worksheet of reader) {
      sheets++;
      let batch: CsvRecord[] = [];
      for await (const row of worksheet) {
        const values = row.values as unknown[];
        const fields: string[] = [];
        // exceljs numbers cells from 1; values[0] is always empty.
        for (let i = 1; i < values.length; i++) fields.push(cellText(values[i]).trim());
        batch.push({ fields, line: row.number });
        if (batch.length >= ROWS_PER_BATCH) {
          yield batch;
          batch = [];
        }
      }
      if (batch.length > 0) yield batch;
      // Only the first worksheet is the manifest.
      break;
    }
  } catch (error) {
    if (error instanceof ManifestRefusal) throw error;
    throw new ManifestRefusal(fileName, undefined, `cannot read it as an Excel workbook (.xlsx): ${(error as Error).message}; save it again from the spreadsheet, or as CSV UTF-8`);
  } finally {
    input.destroy();
  }
  if (sheets === 0) throw new ManifestRefusal(fileName, undefined, "the workbook holds no worksheet");
}
