/**
 * Reads a shipment manifest CSV as ManifestItem batches, streaming: a manifest
 * of millions of lines is never held whole, and the next batch is read only
 * when the Screen stream has taken the previous one (back-pressure from the
 * gateway reaches the file).
 *
 * Format: a header row naming the columns (any order, case-insensitive):
 *   device_id       required: the IMEI, IMEISV or 14-digit body as printed
 *   declared_make   optional: the make the manifest declares (checked against the TAC)
 *   declared_model  optional
 *   line_reference  optional: the manifest's own line reference, echoed in
 *                   findings; when the column is absent, `line N` (the CSV line)
 * Other columns are ignored. RFC 4180 quoting; UTF-8; a BOM is allowed.
 */
import { createReadStream } from "node:fs";
import { CsvSyntaxError, readCsvRecordBatches } from "../../device/csv-records.js";
import { Code, ImeifedError, quote } from "../../errors/index.js";
import type { ManifestItem } from "../../gen/imeifed/v1/federation_pb.js";

/** The manifest's columns, as documented above. */
export const MANIFEST_COLUMNS = ["device_id", "declared_make", "declared_model", "line_reference"] as const;

/** A manifest file that cannot be screened (no header, no device_id column, broken quoting). */
function badManifest(path: string, problem: string): ImeifedError {
  return new ImeifedError(Code.INVALID_ARGUMENT, "BAD_MANIFEST", `${path}: ${problem}`);
}

/** The trimmed field at `column` of a record ("" when the column is absent or the record short). */
function fieldOf(fields: readonly string[], column: number): string {
  return column < 0 ? "" : (fields[column] ?? "").trim();
}

export interface ManifestReadProgress {
  /** Bytes of the file read so far (for a progress bar over the file's size). */
  bytesRead: number;
  itemsRead: number;
}

/**
 * Yields the manifest's items in batches of `batchSize`. `progress`, when
 * given, is updated as the file is read.
 */
export async function* readManifestBatches(path: string, batchSize: number, progress?: ManifestReadProgress): AsyncGenerator<ManifestItem[]> {
  const file = createReadStream(path, { highWaterMark: 256 * 1024 });
  const counted = (async function* () {
    for await (const chunk of file as AsyncIterable<Buffer>) {
      if (progress) progress.bytesRead += chunk.length;
      yield chunk as Uint8Array;
    }
  })();
  let columns: Record<(typeof MANIFEST_COLUMNS)[number], number> | undefined;
  let batch: ManifestItem[] = [];
  try {
    for await (const records of readCsvRecordBatches(counted)) {
      for (const { fields, line } of records) {
        if (!columns) {
          const names = fields.map((f) => f.trim().toLowerCase());
          const at = (name: string) => names.indexOf(name);
          if (at("device_id") < 0) {
            throw badManifest(path, `line ${line}: the header must name a device_id column (found ${names.map((n) => quote(n)).join(", ")}); columns: ${MANIFEST_COLUMNS.join(", ")}`);
          }
          columns = { device_id: at("device_id"), declared_make: at("declared_make"), declared_model: at("declared_model"), line_reference: at("line_reference") };
          continue;
        }
        // A plain message object (what `create` would make): a manifest has millions of them.
        batch.push({
          $typeName: "imeifed.v1.ManifestItem",
          deviceId: fieldOf(fields, columns.device_id),
          declaredMake: fieldOf(fields, columns.declared_make),
          declaredModel: fieldOf(fields, columns.declared_model),
          lineReference: columns.line_reference >= 0 ? fieldOf(fields, columns.line_reference) : `line ${line}`,
        });
        if (progress) progress.itemsRead++;
        if (batch.length >= batchSize) {
          yield batch;
          batch = [];
        }
      }
    }
  } catch (error) {
    if (error instanceof CsvSyntaxError) throw badManifest(path, error.message);
    if ((error as NodeJS.ErrnoException).code === "ENOENT" || (error as NodeJS.ErrnoException).code === "EACCES" || (error as NodeJS.ErrnoException).code === "EISDIR") {
      throw badManifest(path, `cannot read the manifest: ${(error as Error).message}`);
    }
    throw error;
  } finally {
    file.destroy();
  }
  if (!columns) throw badManifest(path, `the manifest is empty; it needs a header row (${MANIFEST_COLUMNS.join(", ")}) and one row per device`);
  if (batch.length > 0) yield batch;
}
