/**
 * Which column of a manifest's header row holds what. Shippers and customs
 * brokers name columns as they like (`IMEI`, `Imei 1`, `IMEI_2`, `Device ID`,
 * `Brand`), so names are compared without case, spaces, punctuation or
 * accents, against a short list of names per column; a header that names no
 * IMEI column, or names one twice, is refused rather than guessed.
 */

import { normaliseMake } from "./declared-make.js";

/** A header cell in comparable form: `IMEI 1`, `imei_1` and `Imei-1` all read `imei1` (the forgiving form makes are compared in). */
export function headerKey(cell: string): string {
  return normaliseMake(cell);
}

/** The columns the reader uses; every other column is ignored. */
export type ManifestColumn = "imei" | "imei2" | "make" | "model" | "lineReference";

/** The header names each column answers to (compared by headerKey). */
export const COLUMN_NAMES: Readonly<Record<ManifestColumn, readonly string[]>> = {
  // The device's (first) IMEI; `device_id` is imeifed's own name for it.
  imei: ["imei", "imei1", "imeinumber", "imeino", "deviceid", "imeisv", "declaredimei"],
  // A dual-SIM phone's second IMEI: the same device, on the same line.
  imei2: ["imei2", "imeinumber2", "imeino2", "deviceid2"],
  // English, then the words of the pilot's and its neighbours' customs (es/pt marca, fr marque, de Marke).
  make: ["make", "brand", "manufacturer", "declaredmake", "marca", "marque", "marke", "fabricante", "fabricant", "hersteller"],
  model: ["model", "declaredmodel", "modelname", "modelo", "modele", "modell"],
  lineReference: ["linereference", "lineref", "line", "lineno", "linenumber"],
};

const COLUMN_OF: ReadonlyMap<string, ManifestColumn> = new Map(
  (Object.entries(COLUMN_NAMES) as [ManifestColumn, readonly string[]][]).flatMap(([column, names]) => names.map((n) => [n, column] as const)),
);

/** The position of each used column in a record (absent: the manifest has no such column). */
export type ColumnPositions = Readonly<Partial<Record<ManifestColumn, number>>>;

/** A header row mapped to columns, or why it cannot be. */
export type HeaderMapping = { ok: true; positions: ColumnPositions } | { ok: false; problem: string };

/** Maps a header row; the problem, when there is one, tells the user what the reader accepts. */
export function mapHeader(cells: readonly string[]): HeaderMapping {
  const positions: Partial<Record<ManifestColumn, number>> = {};
  for (let i = 0; i < cells.length; i++) {
    const column = COLUMN_OF.get(headerKey(cells[i]!));
    if (column === undefined) continue;
    const earlier = positions[column];
    if (earlier !== undefined) {
      return { ok: false, problem: `the columns ${JSON.stringify(cells[earlier]!.trim())} and ${JSON.stringify(cells[i]!.trim())} both name the ${describe(column)}; keep one` };
    }
    positions[column] = i;
  }
  if (positions.imei === undefined) {
    const found = cells.map((c) => JSON.stringify(c.trim())).join(", ") || "nothing";
    const problem =
      positions.imei2 !== undefined
        ? `the header names a second IMEI column but no first one (found ${found}); name the first one "IMEI 1" or "IMEI"`
        : `the header names no IMEI column (found ${found}); the first row must be the header, with a column named "IMEI" (or "IMEI 1" and "IMEI 2" for dual-SIM phones, or "device_id"), and optionally "Make" or "Brand", "Model" and "Line reference"`;
    return { ok: false, problem };
  }
  return { ok: true, positions };
}

function describe(column: ManifestColumn): string {
  return { imei: "device's IMEI", imei2: "second IMEI", make: "make", model: "model", lineReference: "line reference" }[column];
}
