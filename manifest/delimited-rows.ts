/**
 * The rows of a delimited text manifest (CSV as spreadsheets in different
 * locales write it): the separator (comma, semicolon or tab) is read from the
 * header line, outside quotes, since a locale with a decimal comma writes
 * semicolons; Excel's `sep=;` first line names it outright. The rows stream:
 * only the record being read is held, and no field may grow past a bound.
 */
import { CsvSyntaxError, readCsvRecordBatches, type CsvRecord } from "../device/csv-records.js";
import { ManifestRefusal } from "./manifest-refusal.js";

export type Separator = "," | ";" | "\t";

/** A field longer than this is a broken file, not a cell (the contract's longest manifest field is 128). */
export const MAX_FIELD_CHARS = 4096;
/** How much of the file the separator is looked for in: the header line must end within it. */
const HEADER_WINDOW = 64 * 1024;

const SEPARATORS: readonly Separator[] = [",", ";", "\t"];

/** The separator a header line uses: the candidate that occurs most outside quotes (a comma when none does). */
export function separatorOf(headerLine: string): Separator {
  const counts = new Map<Separator, number>(SEPARATORS.map((s) => [s, 0]));
  let quoted = false;
  for (const c of headerLine) {
    if (c === '"') quoted = !quoted;
    else if (!quoted && counts.has(c as Separator)) counts.set(c as Separator, counts.get(c as Separator)! + 1);
  }
  let best: Separator = ",";
  for (const s of SEPARATORS) if (counts.get(s)! > counts.get(best)!) best = s;
  return best;
}

/** Excel's hint line (`sep=;`), which names the separator and is not a row. */
const SEP_HINT = /^sep=(.)$/i;

/** A delimited manifest opened: its separator and its records. */
export interface DelimitedRows {
  readonly separator: Separator;
  readonly rows: AsyncGenerator<CsvRecord[]>;
}

/**
 * Reads `head` (the first chunks, already taken from `rest`) and `rest` as
 * delimited records, in batches. Refuses the file, naming the line, when a
 * quote is never closed or a field is absurdly long.
 */
export async function openDelimited(fileName: string, head: Uint8Array[], rest: AsyncIterator<Uint8Array>): Promise<DelimitedRows> {
  // Take chunks until the header line ends (or the window is full) to choose the separator.
  const taken = [...head];
  let size = taken.reduce((n, c) => n + c.length, 0);
  const headerEnds = () => taken.some((c) => c.includes(10) || c.includes(13));
  let ended = false;
  while (!headerEnds() && size < HEADER_WINDOW) {
    const next = await rest.next();
    if (next.done) {
      ended = true;
      break;
    }
    taken.push(next.value);
    size += next.value.length;
  }
  const text = new TextDecoder("utf-8").decode(Buffer.concat(taken).subarray(0, HEADER_WINDOW)).replace(/^\uFEFF/, "");
  const firstLine = /^[^\r\n]*/.exec(text)![0];
  if (firstLine.length >= HEADER_WINDOW - 4) throw new ManifestRefusal(fileName, 1, `the header line is longer than ${HEADER_WINDOW / 1024} KiB; is this a manifest?`);
  const hint = SEP_HINT.exec(firstLine);
  const separator = hint ? (SEPARATORS.includes(hint[1] as Separator) ? (hint[1] as Separator) : undefined) : separatorOf(firstLine);
  if (separator === undefined) throw new ManifestRefusal(fileName, 1, `the separator ${JSON.stringify(hint![1])} is not one the reader takes: use a comma, a semicolon or a tab`);
  const chunks = (async function* () {
    yield* taken;
    if (ended) return;
    for (let next = await rest.next(); !next.done; next = await rest.next()) yield next.value;
  })();
  const rows = (async function* () {
    try {
      let skipHint = hint !== null;
      for await (const records of readCsvRecordBatches(chunks, { separator, maxFieldChars: MAX_FIELD_CHARS })) {
        if (skipHint) {
          skipHint = false;
          records.shift();
          if (records.length === 0) continue;
        }
        yield records;
      }
    } catch (error) {
      if (error instanceof CsvSyntaxError) throw new ManifestRefusal(fileName, error.line, error.message.replace(/^line \d+: /, ""));
      throw error;
    }
  })();
  return { separator, rows };
}
