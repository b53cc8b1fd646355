/**
 * The one manifest reader: a shipment manifest as customs receive it (CSV
 * with commas, semicolons or tabs, a byte-order mark or none, quoted fields;
 * or an Excel workbook) becomes the devices to screen, in batches, never held
 * whole. `checkManifest` reads a manifest through once and refuses it, with
 * the line and the reason, before anything is screened; `readManifest` then
 * yields its devices. The CLI (`imeifed screen`) and the console read
 * manifests here and nowhere else.
 */
import { isPlainText, textLimitOf } from "../contract/index.js";
import type { CsvRecord } from "../device/csv-records.js";
import { ManifestItemSchema, type ManifestItem } from "../gen/imeifed/v1/federation_pb.js";
import { mapHeader, type ColumnPositions, type ManifestColumn } from "./manifest-columns.js";
import { ManifestRefusal } from "./manifest-refusal.js";
import type { ManifestSource } from "./manifest-source.js";
import { openDelimited, type Separator } from "./delimited-rows.js";
import { xlsxRows } from "./xlsx-rows.js";

/** One device of a manifest: one line, one IMEI, or two for a dual-SIM phone. */
export interface ManifestDevice {
  /** The IMEI as printed, and a dual-SIM phone's second IMEI. */
  readonly imeis: readonly [string] | readonly [string, string];
  readonly make: string;
  readonly model: string;
  /** The manifest's own line reference, or `line N` (`row N` in a workbook). */
  readonly lineReference: string;
  /** The 1-based line of the file (row of the sheet). */
  readonly line: number;
}

/** How the file was read. */
export type ManifestFormat = { readonly kind: "delimited"; readonly separator: Separator } | { readonly kind: "xlsx" };

/** What a full read of a readable manifest found. */
export interface ManifestCheck {
  readonly format: ManifestFormat;
  /** The header text of each column the reader uses. */
  readonly columns: Readonly<Partial<Record<ManifestColumn, string>>>;
  readonly devices: number;
  /** IMEIs to screen: a dual-SIM device counts two. */
  readonly imeis: number;
}

/** Updated as a manifest is read, for a progress display. */
export interface ManifestReadProgress {
  bytesRead: number;
  devicesRead: number;
}

export interface ReadManifestOptions {
  /** Devices per yielded batch (default 1,000). */
  readonly batchSize?: number;
  readonly progress?: ManifestReadProgress;
}

/** A ZIP archive's first bytes: an .xlsx workbook is one. */
const ZIP_MAGIC = [0x50, 0x4b, 0x03, 0x04];
/** An OLE2 compound file's first bytes: an Excel 97-2003 .xls workbook. */
const OLE2_MAGIC = [0xd0, 0xcf, 0x11, 0xe0];

function startsWith(bytes: Uint8Array, magic: readonly number[]): boolean {
  return magic.every((b, i) => bytes[i] === b);
}

const LIMITS = {
  imei: textLimitOf(ManifestItemSchema.field.deviceId!),
  make: textLimitOf(ManifestItemSchema.field.declaredMake!),
  model: textLimitOf(ManifestItemSchema.field.declaredModel!),
  lineReference: textLimitOf(ManifestItemSchema.field.lineReference!),
};

interface Opened {
  format: ManifestFormat;
  rows: AsyncGenerator<CsvRecord[]>;
}

/** Opens the source, tells a workbook from text by its first bytes (and name), and returns its rows. */
async function openRows(source: ManifestSource, progress: ManifestReadProgress | undefined): Promise<Opened> {
  const chunks = (async function* () {
    for await (const chunk of source.open()) {
      if (progress) progress.bytesRead += chunk.length;
      yield chunk;
    }
  })();
  const head: Uint8Array[] = [];
  let size = 0;
  while (size < 4) {
    const next = await chunks.next();
    if (next.done) break;
    head.push(next.value);
    size += next.value.length;
  }
  const first = Buffer.concat(head).subarray(0, 4);
  if (size === 0) throw new ManifestRefusal(source.name, undefined, "the manifest is empty; it needs a header row (for example IMEI,Make,Model) and one row per device");
  if (startsWith(first, OLE2_MAGIC)) throw new ManifestRefusal(source.name, undefined, "this is an Excel 97-2003 workbook (.xls); save it as .xlsx or as CSV UTF-8");
  if (startsWith(first, ZIP_MAGIC)) return { format: { kind: "xlsx" }, rows: xlsxRows(source.name, head, chunks) };
  if (/\.xlsx$|\.xlsm$/i.test(source.name)) throw new ManifestRefusal(source.name, undefined, "the name says Excel workbook (.xlsx) but the file is not one; save it again from the spreadsheet");
  const { separator, rows } = await openDelimited(source.name, head, chunks);
  return { format: { kind: "delimited", separator }, rows };
}

function cell(fields: readonly string[], at: number | undefined): string {
  return at === undefined ? "" : (fields[at] ?? "").trim();
}

/** The devices of a manifest, in batches, each row checked (see checkManifest). */
async function* devicesOf(source: ManifestSource, opened: Opened, options: ReadManifestOptions, found: { columns?: Partial<Record<ManifestColumn, string>> }): AsyncGenerator<ManifestDevice[]> {
  const batchSize = options.batchSize ?? 1_000;
  const progress = options.progress;
  const workbook = opened.format.kind === "xlsx";
  let positions: ColumnPositions | undefined;
  let width = 0;
  let batch: ManifestDevice[] = [];
  let devices = 0;
  const refuse = (line: number, problem: string) => new ManifestRefusal(source.name, line, problem);
  for await (const records of opened.rows) {
    for (const { fields, line } of records) {
      if (fields.every((f) => f.trim() === "")) continue;
      if (!workbook && fields.some((f) => f.includes("\uFFFD"))) {
        throw refuse(line, "the text is not UTF-8 (a spreadsheet's legacy encoding?); save the sheet as CSV UTF-8 or as .xlsx");
      }
      if (!positions) {
        const mapping = mapHeader(fields);
        if (!mapping.ok) throw refuse(line, mapping.problem);
        positions = mapping.positions;
        width = fields.length;
        found.columns = Object.fromEntries(Object.entries(positions).map(([column, at]) => [column, fields[at]!.trim()]));
        continue;
      }
      if (fields.length > width && fields.slice(width).some((f) => f.trim() !== "")) {
        throw refuse(line, `${fields.length} fields where the header has ${width}; a separator inside a field needs the field in double quotes`);
      }
      const imei = cell(fields, positions.imei);
      const imei2 = cell(fields, positions.imei2);
      const device: ManifestDevice = {
        imeis: imei2 !== "" && imei2 !== imei ? [imei, imei2] : [imei],
        make: cell(fields, positions.make),
        model: cell(fields, positions.model),
        lineReference: positions.lineReference !== undefined ? cell(fields, positions.lineReference) : `${workbook ? "row" : "line"} ${line}`,
        line,
      };
      for (const [what, value, limit] of [
        ["IMEI", imei, LIMITS.imei],
        ["second IMEI", imei2, LIMITS.imei],
        ["make", device.make, LIMITS.make],
        ["model", device.model, LIMITS.model],
        ["line reference", device.lineReference, LIMITS.lineReference],
      ] as const) {
        if (!isPlainText(value, limit)) throw refuse(line, `the ${what} ${JSON.stringify(value.slice(0, 40))}${value.length > 40 ? "..." : ""} is longer than ${limit} characters or holds a control character`);
      }
      batch.push(device);
      devices++;
      if (progress) progress.devicesRead++;
      if (batch.length >= batchSize) {
        yield batch;
        batch = [];
      }
    }
  }
  if (!positions) throw new ManifestRefusal(source.name, undefined, "the manifest is empty; it needs a header row (for example IMEI,Make,Model) and one row per device");
  if (devices === 0) throw new ManifestRefusal(source.name, undefined, "the manifest lists no devices under its header");
  if (batch.length > 0) yield batch;
}

/**
 * Reads the whole manifest once, holding one batch at a time, and refuses it
 * (ManifestRefusal: the line and the reason) when any of it cannot be read:
 * call it before screening, so a manifest is screened whole or not at all.
 */
export async function checkManifest(source: ManifestSource, progress?: ManifestReadProgress): Promise<ManifestCheck> {
  const opened = await openRows(source, progress);
  const found: { columns?: Partial<Record<ManifestColumn, string>> } = {};
  let devices = 0;
  let imeis = 0;
  for await (const batch of devicesOf(source, opened, progress ? { progress } : {}, found)) {
    devices += batch.length;
    for (const d of batch) imeis += d.imeis.length;
  }
  return { format: opened.format, columns: found.columns ?? {}, devices, imeis };
}

/** Yields the manifest's devices in batches; a problem refuses the file (ManifestRefusal) where it is met. */
export async function* readManifest(source: ManifestSource, options: ReadManifestOptions = {}): AsyncGenerator<ManifestDevice[]> {
  const opened = await openRows(source, options.progress);
  yield* devicesOf(source, opened, options, {});
}

/**
 * The Screen stream's items for a batch of devices. An item carries one
 * device id, so a dual-SIM device becomes two items with the same line
 * reference: both of its IMEIs are screened, and a finding names which.
 */
export function manifestItemsOf(devices: readonly ManifestDevice[]): ManifestItem[] {
  const items: ManifestItem[] = [];
  for (const d of devices) {
    for (const imei of d.imeis) {
      // A plain message object (what `create` would make): a manifest has millions of them.
      items.push({ $typeName: "imeifed.v1.ManifestItem", deviceId: imei, declaredMake: d.make, declaredModel: d.model, lineReference: d.lineReference });
    }
  }
  return items;
}
