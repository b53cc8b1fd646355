/**
 * RFC 4180 CSV records read from a stream, one record at a time: TAC exports
 * and shipment manifests can be large, so nothing here holds more than the
 * record being read. Quoted fields may hold commas, doubled quotes and line
 * breaks; CRLF and LF both end a record; a leading UTF-8 BOM is dropped.
 */

/** One CSV record and the 1-based line it starts on, so errors can name the line. */
export interface CsvRecord {
  readonly fields: string[];
  readonly line: number;
}

/** A CSV that cannot be read (an unterminated quote); `line` names where the bad record starts. */
export class CsvSyntaxError extends Error {
  override readonly name = "CsvSyntaxError";
  constructor(
    readonly line: number,
    problem: string,
  ) {
    super(`line ${line}: ${problem}`);
  }
}

/** How a CSV is cut: the field separator and a bound on one field. */
export interface CsvOptions {
  /** The field separator (default a comma; spreadsheets in many locales write semicolons, some tools tabs). */
  readonly separator?: "," | ";" | "\t";
  /**
   * The longest field accepted, in characters (default unbounded). A reader of
   * untrusted files sets it: an unclosed quote otherwise gathers the rest of
   * the file into one field.
   */
  readonly maxFieldChars?: number;
}

/**
 * Splits a stream of text (or bytes, read as UTF-8) into CSV records. Blank
 * lines are skipped: they carry nothing and are common at the end of files.
 */
export async function* readCsvRecords(source: AsyncIterable<string | Uint8Array> | Iterable<string>, options: CsvOptions = {}): AsyncGenerator<CsvRecord> {
  for await (const records of readCsvRecordBatches(source, options)) yield* records;
}

/**
 * The same records, yielded as the records each chunk of the source
 * completes: a reader of millions of lines (a manifest, an import) then
 * awaits once a chunk, not once a record (an async step per record cost more
 * than reading the record).
 */
export async function* readCsvRecordBatches(source: AsyncIterable<string | Uint8Array> | Iterable<string>, options: CsvOptions = {}): AsyncGenerator<CsvRecord[]> {
  const sep = (options.separator ?? ",").charCodeAt(0);
  const maxField = options.maxFieldChars ?? Infinity;
  const tooLong = () => new CsvSyntaxError(recordLine, `a field is longer than ${maxField} characters (a quote that is never closed?)`);
  const decoder = new TextDecoder("utf-8");
  let fields: string[] = [];
  let field = "";
  let inQuotes = false;
  // After a closing quote: the next character must end the field or be a second quote.
  let quoteClosed = false;
  let line = 1;
  let recordLine = 1;
  let first = true;
  let pendingCr = false;
  let fieldStarted = false;

  const endRecord = (): CsvRecord | undefined => {
    fields.push(field);
    const record = fields.length === 1 && fields[0] === "" && !fieldStarted ? undefined : { fields, line: recordLine };
    fields = [];
    field = "";
    fieldStarted = false;
    return record;
  };

  for await (const chunk of source) {
    const completed: CsvRecord[] = [];
    let text = typeof chunk === "string" ? chunk : decoder.decode(chunk, { stream: true });
    if (first) {
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      if (text.length > 0) first = false;
    }
    let i = 0;
    const n = text.length;
    while (i < n) {
      if (pendingCr) {
        // A CR already ended the record; a following LF belongs to it.
        pendingCr = false;
        if (text.charCodeAt(i) === 10) {
          i++;
          continue;
        }
      }
      if (inQuotes) {
        const q = text.indexOf('"', i);
        if (q === -1) {
          const part = text.slice(i);
          for (let k = 0; k < part.length; k++) if (part.charCodeAt(k) === 10) line++;
          field += part;
          if (field.length > maxField) throw tooLong();
          i = n;
          break;
        }
        const part = text.slice(i, q);
        for (let k = 0; k < part.length; k++) if (part.charCodeAt(k) === 10) line++;
        field += part;
        if (field.length > maxField) throw tooLong();
        inQuotes = false;
        quoteClosed = true;
        i = q + 1;
        continue;
      }
      const c = text.charCodeAt(i);
      if (quoteClosed) {
        quoteClosed = false;
        if (c === 34) {
          // A doubled quote inside a quoted field.
          field += '"';
          inQuotes = true;
          i++;
          continue;
        }
      }
      if (c === sep) {
        fields.push(field);
        field = "";
        fieldStarted = true;
        i++;
      } else if (c === 10 || c === 13) {
        const record = endRecord();
        if (record) completed.push(record);
        line++;
        recordLine = line;
        if (c === 13) pendingCr = true;
        i++;
      } else if (c === 34 && field === "") {
        inQuotes = true;
        fieldStarted = true;
        i++;
      } else {
        // Plain run of characters up to the next separator, line end or quote.
        let j = i + 1;
        while (j < n) {
          const d = text.charCodeAt(j);
          if (d === sep || d === 10 || d === 13) break;
          j++;
        }
        field += text.slice(i, j);
        if (field.length > maxField) throw tooLong();
        fieldStarted = true;
        i = j;
      }
    }
    if (completed.length > 0) yield completed;
  }
  const tail = decoder.decode();
  if (tail) field += tail;
  if (inQuotes) throw new CsvSyntaxError(recordLine, "a quoted field is never closed");
  const record = endRecord();
  if (record) yield [record];
}
