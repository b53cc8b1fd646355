/**
 * The rows of the first worksheet of an Excel workbook (.xlsx), read with
 * exceljs's streaming reader: rows are handed on as they are parsed, never
 * the whole sheet. What must be held is the workbook's shared-string table
 * (text cells point into it), which grows with the number of distinct texts:
 * the reader keeps it itself, bounded, and refuses a workbook past the bound
 * (exceljs's own cache has none). exceljs spools a worksheet to a temporary
 * file when the table comes after it in the archive. Cells become the text a
 * person sees: numbers in full (a 15-digit IMEI fits a double exactly),
 * formulas by their result, rich text and hyperlinks by their text.
 */
import { Readable } from "node:stream";
import ExcelJS from "exceljs";
import type { CsvRecord } from "../device/csv-records.js";
import { ManifestRefusal } from "./manifest-refusal.js";

/** Rows handed on per batch: a reader of a million rows awaits once a batch, not once a row. */
const ROWS_PER_BATCH = 512;

/**
 * The shared-string table's bound: two million distinct texts (a manifest of a
 * million dual-SIM phones with IMEIs stored as text) and 64 Mi characters in
 * all. A CSV has no such bound: it streams whatever its length.
 */
export const SHARED_STRINGS_LIMIT = { count: 2_000_000, chars: 64 * 1024 * 1024 } as const;

/** The text of one cell as exceljs gives it. */
export function cellText(value: unknown, shared: readonly string[] = []): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number") return Number.isInteger(value) && Math.abs(value) < 1e21 ? value.toFixed(0) : String(value);
  if (typeof value === "boolean") return String(value);
  if (value instanceof Date) return value.toISOString();
  if (typeof value === "object") {
    const v = value as { richText?: { text?: string }[]; text?: unknown; result?: unknown; error?: string; formula?: string; sharedFormula?: string; sharedString?: number };
    if (Array.isArray(v.richText)) return v.richText.map((r) => r.text ?? "").join("");
    if (typeof v.sharedString === "number") return shared[v.sharedString] ?? "";
    if (v.text !== undefined) return cellText(v.text, shared);
    if (v.formula !== undefined || v.sharedFormula !== undefined) return cellText(v.result, shared);
    if (typeof v.error === "string") return v.error;
  }
  return String(value);
}

/** The first worksheet's rows, numbered as the sheet numbers them. */
export async function* xlsxRows(fileName: string, head: Uint8Array[], rest: AsyncIterator<Uint8Array>, limit: { count: number; chars: number } = SHARED_STRINGS_LIMIT): AsyncGenerator<CsvRecord[]> {
  const input = Readable.from(
    (async function* () {
      yield* head;
      for (let next = await rest.next(); !next.done; next = await rest.next()) yield next.value;
    })(),
    { objectMode: false },
  );
  // "emit": exceljs hands each shared string over instead of caching them all; worksheets come after the table.
  const reader = new ExcelJS.stream.xlsx.WorkbookReader(input, { worksheets: "emit", sharedStrings: "emit", hyperlinks: "ignore", styles: "ignore", entries: "ignore" });
  const shared: string[] = [];
  let sharedChars = 0;
  let sheets = 0;
  try {
    for await (const event of reader.parse() as unknown as AsyncIterable<{ eventType?: string; value?: unknown; index?: number; text?: unknown }>) {
      // exceljs yields a shared string as a bare { index, text } (no eventType) in "emit" mode.
      if (typeof event.index === "number" && event.eventType === undefined) {
        const text = cellText(event.text);
        sharedChars += text.length;
        if (shared.length >= limit.count || sharedChars > limit.chars) {
          throw new ManifestRefusal(
            fileName,
            undefined,
            `the workbook holds more than ${limit.count.toLocaleString("en")} distinct texts or ${limit.chars.toLocaleString("en")} characters of text; split it, or save it as CSV UTF-8 (read as a stream, without this bound)`,
          );
        }
        shared[event.index] = text;
        continue;
      }
      if (event.eventType !== "worksheet") continue;
      const worksheet = event.value as AsyncIterable<{ values: unknown; number: number }>;
      sheets++;
      if (sheets > 1) {
        // Only the first worksheet is the manifest. The others are read through and dropped rather than
        // left: exceljs deletes a spooled worksheet's temporary file only once it has been read.
        for await (const _ of worksheet) void _;
        continue;
      }
      let batch: CsvRecord[] = [];
      for await (const row of worksheet) {
        const values = row.values as unknown[];
        const fields: string[] = [];
        // exceljs numbers cells from 1; values[0] is always empty.
        for (let i = 1; i < values.length; i++) fields.push(cellText(values[i], shared).trim());
        batch.push({ fields, line: row.number });
        if (batch.length >= ROWS_PER_BATCH) {
          yield batch;
          batch = [];
        }
      }
      if (batch.length > 0) yield batch;
    }
  } catch (error) {
    if (error instanceof ManifestRefusal) throw error;
    throw new ManifestRefusal(fileName, undefined, `cannot read it as an Excel workbook (.xlsx): ${(error as Error).message}; save it again from the spreadsheet, or as CSV UTF-8`);
  } finally {
    input.destroy();
  }
  if (sheets === 0) throw new ManifestRefusal(fileName, undefined, "the workbook holds no worksheet");
}
