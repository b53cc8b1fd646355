/**
 * Bulk import of a country's existing stolen list from CSV (format in
 * README.md beside this file). Rows are checked by the same rules as
 * ReportDevice and written by the store in one transaction: the first bad
 * row stops the import with its line number and problem, and nothing of that
 * import is kept, so a corrected file can simply be imported again (rows
 * already recorded are replays and write nothing).
 */
import { DeviceStatus, Reason } from "../../../gen/imeifed/v1/device_pb.js";
import { Code, ImeifedError, quote } from "../../../errors/index.js";
import { CsvSyntaxError, readCsvRecordBatches, type CsvRecord } from "../../../device/csv-records.js";
import { reportInputFrom } from "../report-input.js";
import type { ImportRow, ImportSummary, RegistryStore } from "../store/registry-store.js";

/** Columns a file must have. */
export const REQUIRED_COLUMNS = ["imei", "status", "reason", "agency", "case_reference"] as const;
/** Columns a file may have; cells may be empty. */
export const OPTIONAL_COLUMNS = ["source_reason_code", "occurred_at", "reported_at", "make", "model", "crime_reference"] as const;
type Column = (typeof REQUIRED_COLUMNS)[number] | (typeof OPTIONAL_COLUMNS)[number];
const ALL_COLUMNS: readonly string[] = [...REQUIRED_COLUMNS, ...OPTIONAL_COLUMNS];

/** ISO 8601 date or date-time, e.g. 2025-03-01 or 2025-03-01T10:00:00Z. */
const ISO_8601 = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,3})?)?(Z|[+-]\d{2}:?\d{2})?)?$/;
const AGENCY_LIMIT = 100;

function bad(line: number, problem: string): ImeifedError {
  return new ImeifedError(Code.INVALID_ARGUMENT, "IMPORT_ROW_INVALID", `line ${line}: ${problem}`);
}

function enumValue<E extends Record<string, string | number>>(e: E, cell: string, line: number, column: string, allowed: readonly string[]): E[keyof E] {
  const name = cell.trim().toUpperCase().replace(/^(DEVICE_STATUS_|REASON_)/, "");
  if (!allowed.includes(name)) throw bad(line, `column ${column}: ${quote(cell)} is not one of ${allowed.join(", ")}`);
  return e[name as keyof E];
}

/** The decimal number in text[from, to), or -1 if any character there is not a digit. */
function digitsOf(text: string, from: number, to: number): number {
  let value = 0;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    value = value * 10 + c;
  }
  return value;
}

/** `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM:SSZ` read without a regex (most cells of a large list); undefined for any other shape. */
function plainDate(text: string): number | undefined {
  if (text.length !== 10 && !(text.length === 20 && text.charCodeAt(10) === 84 /* T */ && text.charCodeAt(19) === 90 /* Z */)) return undefined;
  if (text.charCodeAt(4) !== 45 || text.charCodeAt(7) !== 45) return undefined;
  const y = digitsOf(text, 0, 4);
  const m = digitsOf(text, 5, 7);
  const d = digitsOf(text, 8, 10);
  if (y < 0 || m < 1 || m > 12 || d < 1 || d > 31) return undefined;
  if (text.length === 10) return Date.UTC(y, m - 1, d);
  if (text.charCodeAt(13) !== 58 || text.charCodeAt(16) !== 58) return undefined;
  const hh = digitsOf(text, 11, 13);
  const mm = digitsOf(text, 14, 16);
  const ss = digitsOf(text, 17, 19);
  if (hh < 0 || hh > 23 || mm < 0 || mm > 59 || ss < 0 || ss > 59) return undefined;
  return Date.UTC(y, m - 1, d, hh, mm, ss);
}

function dateValue(cell: string, line: number, column: string): number | undefined {
  const text = cell.trim();
  if (text === "") return undefined;
  const plain = plainDate(text);
  // A day the month has (Date.UTC would roll 2025-02-30 over into March; the full check below says why).
  if (plain !== undefined && new Date(plain).getUTCDate() === Number(text.slice(8, 10))) return plain;
  const match = ISO_8601.exec(text);
  const [y, m, d] = text.slice(0, 10).split("-").map(Number) as [number, number, number];
  // Date.parse rolls 2025-02-30 over into March: refuse a day the month does not have.
  if (match && new Date(Date.UTC(y, m - 1, d)).getUTCDate() !== d) {
    throw bad(line, `column ${column}: ${quote(cell)} is not a date of the calendar`);
  }
  // Without an offset a date-time is taken as UTC (JavaScript would read it as local time).
  const ms = match ? Date.parse(match[1] === undefined && text.length > 10 ? `${text}Z` : text) : Number.NaN;
  if (Number.isNaN(ms)) throw bad(line, `column ${column}: ${quote(cell)} is not an ISO 8601 date such as 2025-03-01 or 2025-03-01T10:00:00Z`);
  return ms;
}

const REASONS = Object.keys(Reason).filter((k) => Number.isNaN(Number(k)) && k !== "UNSPECIFIED");

/**
 * Reads the header and turns each further record into an ImportRow, or throws
 * naming the line. Takes the records in the batches each chunk of the file
 * completes: an async step per record would cost more than checking it.
 */
export async function* importRowsOf(batches: AsyncIterable<readonly CsvRecord[]>): AsyncGenerator<ImportRow> {
  let columns: Map<Column, number> | undefined;
  let width = 0;
  try {
    for await (const records of batches) {
      for (const record of records) {
        if (columns) {
          yield importRowOf(record, columns, width);
        } else {
          columns = headerOf(record);
          width = record.fields.length;
        }
      }
    }
  } catch (error) {
    if (error instanceof CsvSyntaxError) throw new ImeifedError(Code.INVALID_ARGUMENT, "IMPORT_CSV_INVALID", error.message);
    throw error;
  }
  if (!columns) throw new ImeifedError(Code.INVALID_ARGUMENT, "IMPORT_CSV_EMPTY", `the file is empty; it needs a header row naming at least ${REQUIRED_COLUMNS.join(", ")}`);
}

function cellOf(fields: readonly string[], columns: ReadonlyMap<Column, number>, column: Column): string {
  const i = columns.get(column);
  return i === undefined ? "" : fields[i]!;
}

/** One data record as an ImportRow, or a throw naming its line. */
function importRowOf(record: CsvRecord, columns: ReadonlyMap<Column, number>, width: number): ImportRow {
  const { line, fields } = record;
  if (fields.length !== width) throw bad(line, `has ${fields.length} fields but the header has ${width}; quote cells that hold commas`);
  const agency = cellOf(fields, columns, "agency").trim();
  if (agency === "") throw bad(line, "column agency: is empty; name the reporting agency's principal id, e.g. police-gb");
  if (agency.length > AGENCY_LIMIT) throw bad(line, `column agency: is longer than ${AGENCY_LIMIT} characters`);
  const imeis = cellOf(fields, columns, "imei")
    .split("|")
    .map((s) => s.trim())
    .filter((s) => s !== "");
  try {
    const reportedAt = dateValue(cellOf(fields, columns, "reported_at"), line, "reported_at");
    const report = reportInputFrom(
      {
        imeis,
        status: enumValue(DeviceStatus, cellOf(fields, columns, "status"), line, "status", ["PROHIBITED", "TRACKED"]),
        reason: enumValue(Reason, cellOf(fields, columns, "reason"), line, "reason", REASONS),
        sourceReasonCode: cellOf(fields, columns, "source_reason_code"),
        caseReference: cellOf(fields, columns, "case_reference"),
        occurredAt: dateValue(cellOf(fields, columns, "occurred_at"), line, "occurred_at"),
        make: cellOf(fields, columns, "make"),
        model: cellOf(fields, columns, "model"),
        crimeReference: cellOf(fields, columns, "crime_reference"),
        owner: undefined,
        ...(reportedAt !== undefined ? { reportedAt } : {}),
      },
      agency,
      (field) => columnOf(field, imeis.length),
    );
    return { line, report };
  } catch (error) {
    if (error instanceof ImeifedError && !error.message.startsWith("line ")) throw bad(line, error.message);
    throw error;
  }
}

/** Names a report field by the CSV column it came from. */
function columnOf(field: string, imeiCount: number): string {
  const imei = /^imeis\[(\d+)\]$/.exec(field);
  if (imei) return imeiCount > 1 ? `column imei (IMEI ${Number(imei[1]) + 1} of ${imeiCount})` : "column imei";
  if (field === "imeis") return "column imei";
  if (field === "verification.crime_reference") return "column crime_reference";
  return `column ${field}`;
}

function headerOf(record: CsvRecord): Map<Column, number> {
  const columns = new Map<Column, number>();
  record.fields.forEach((raw, i) => {
    const name = raw.trim().toLowerCase();
    if (!ALL_COLUMNS.includes(name)) throw bad(record.line, `unknown column ${quote(raw)}; the columns are ${ALL_COLUMNS.join(", ")}`);
    if (columns.has(name as Column)) throw bad(record.line, `column ${name} appears twice`);
    columns.set(name as Column, i);
  });
  const missing = REQUIRED_COLUMNS.filter((c) => !columns.has(c));
  if (missing.length > 0) throw bad(record.line, `the header lacks ${missing.join(", ")}; the first row must name the columns`);
  return columns;
}

/** Imports a CSV (text or bytes) into the store; see the module comment. */
export async function importCsv(store: RegistryStore, source: AsyncIterable<string | Uint8Array> | Iterable<string>): Promise<ImportSummary> {
  return store.importReports(importRowsOf(readCsvRecordBatches(source)));
}
