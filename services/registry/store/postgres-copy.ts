/**
 * `COPY table (columns) FROM STDIN` over one node-postgres client, with no
 * package beyond `pg`: a custom query object (pg's documented "submittable"
 * interface, the one pg-copy-streams and pg-cursor use) that answers the
 * server's CopyInResponse by sending the rows as CopyData messages, waits for
 * the socket to drain between chunks (so memory holds one chunk, not the
 * whole table), then sends CopyDone and settles with the row count.
 *
 * Rows are PostgreSQL's text format: columns separated by tabs, rows ended by
 * a newline, `\N` for NULL, and backslash, tab, newline and carriage return
 * escaped inside values (`copyText`).
 */
import { once } from "node:events";
import type pg from "pg";

/** The part of pg's Connection a COPY uses (pg's own methods; `stream` is its socket). */
interface CopyConnection {
  query(text: string): void;
  sendCopyFromChunk(chunk: Buffer): void;
  endCopyFrom(): void;
  sendCopyFail(message: string): void;
  readonly stream: NodeJS.WritableStream & { readonly writableNeedDrain?: boolean; readonly destroyed?: boolean };
}

/** Bytes per CopyData message: large enough to amortise framing, small enough to keep memory flat. */
const CHUNK_BYTES = 64 * 1024;

const NEEDS_ESCAPE = /[\\\t\n\r]/;

/** One value in COPY's text format (`\N` for null). */
export function copyText(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return "\\N";
  if (typeof value === "number") return String(value);
  if (!NEEDS_ESCAPE.test(value)) return value;
  return value.replace(/[\\\t\n\r]/g, (c) => (c === "\\" ? "\\\\" : c === "\t" ? "\\t" : c === "\n" ? "\\n" : "\\r"));
}

/** Streams `rows` (text-format lines, each ending in a newline) into `COPY ... FROM STDIN`; resolves to the rows copied. */
export function copyFrom(client: pg.ClientBase, sql: string, rows: Iterable<string>): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    let failure: unknown;
    let copied = 0;
    let settled = false;
    const settle = (error: unknown) => {
      if (settled) return;
      settled = true;
      if (error === undefined) resolve(copied);
      else reject(error);
    };
    const pump = async (c: CopyConnection) => {
      let pending = "";
      try {
        for (const row of rows) {
          pending += row;
          if (pending.length < CHUNK_BYTES) continue;
          c.sendCopyFromChunk(Buffer.from(pending, "utf8"));
          pending = "";
          if (c.stream.writableNeedDrain) await once(c.stream, "drain");
          // The server refused the data (or the socket died): it ignores whatever follows.
          if (failure !== undefined || settled) return;
        }
        if (pending !== "") c.sendCopyFromChunk(Buffer.from(pending, "utf8"));
        c.endCopyFrom();
      } catch (error) {
        // The rows' source failed: abort the COPY; the server answers with an error, which this replaces.
        failure = error;
        c.sendCopyFail(error instanceof Error ? error.message : String(error));
      }
    };
    const submittable = {
      submit(c: CopyConnection) {
        c.query(sql);
      },
      handleCopyInResponse(c: CopyConnection) {
        void pump(c);
      },
      handleCommandComplete(message: { text?: string }) {
        copied = Number(/^COPY (\d+)/.exec(message.text ?? "")?.[1] ?? 0);
      },
      handleReadyForQuery() {
        settle(failure);
      },
      handleError(error: unknown) {
        // After an error pg sends no ReadyForQuery to this query: settle now (the source's own failure first).
        failure ??= error;
        settle(failure);
      },
      // A COPY FROM answers none of these; pg calls them only on a protocol mix-up.
      handleRowDescription() {},
      handleDataRow() {},
      handleEmptyQuery() {},
      handlePortalSuspended() {},
      handleCopyData() {},
    };
    client.query(submittable as unknown as pg.Submittable);
  });
}
