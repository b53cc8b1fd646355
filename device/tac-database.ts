/**
 * Make and model per TAC, from the public Osmocom TAC database export
 * (http://tacdb.osmocom.org/export/tacdb.csv, CC-BY-SA 3.0: the operator
 * supplies the file and keeps its attribution). Screening compares a TAC's
 * known make with the make a manifest declares: a mismatch is a classic sign
 * of an altered IMEI.
 *
 * The export's shape (checked against published copies of it): a licence
 * banner line ("Osmocom TAC database under CC-BY-SA v3.0 ..."), then the header
 * `tac,name,name,contributor,comment,gsmarena,gsmarena,aka`, where the first
 * `name` is the make and the second the model, then one row per TAC; fields
 * may be quoted. Lines before the header are skipped; a file without a header
 * is read as `tac,make,model,...`. Rows whose TAC is not 8 digits or whose make
 * is empty are skipped and counted, so one bad row does not cost the rest.
 */
import { createReadStream } from "node:fs";
import { Code, ImeifedError } from "../errors/index.js";
import { CsvSyntaxError, readCsvRecords } from "./csv-records.js";

/** What the TAC data says a TAC is. */
export interface TacModel {
  readonly make: string;
  readonly model: string;
}

/** The TAC → make/model table the gateway loads once at start (config `tacFile`). */
export class TacDatabase {
  readonly #models: Map<string, TacModel>;
  /** Rows that could not be used (bad TAC, empty make). */
  readonly skipped: number;

  private constructor(models: Map<string, TacModel>, skipped: number) {
    this.#models = models;
    this.skipped = skipped;
  }

  /** An in-memory table, for tests and for callers that already hold the data. */
  static fromEntries(entries: Iterable<readonly [tac: string, model: TacModel]>): TacDatabase {
    return new TacDatabase(new Map(entries), 0);
  }

  /** Reads an Osmocom-format CSV from any text source (file stream, string chunks). */
  static async read(source: AsyncIterable<string | Uint8Array> | Iterable<string>, name = "TAC file"): Promise<TacDatabase> {
    const models = new Map<string, TacModel>();
    // Many TACs share one make: keep one string per make.
    const makes = new Map<string, string>();
    let makeColumn = -1;
    let modelColumn = -1;
    let skipped = 0;
    try {
      for await (const { fields } of readCsvRecords(source)) {
        const tac = (fields[0] ?? "").trim();
        if (makeColumn < 0) {
          if (tac.toLowerCase() === "tac") {
            const names = fields.flatMap((f, i) => (f.trim().toLowerCase() === "name" ? [i] : []));
            makeColumn = names[0] ?? 1;
            modelColumn = names[1] ?? makeColumn + 1;
            continue;
          }
          if (!/^\d{8}$/.test(tac)) continue; // the licence banner, or anything else before the header
          makeColumn = 1;
          modelColumn = 2;
        }
        const rawMake = (fields[makeColumn] ?? "").trim();
        if (!/^\d{8}$/.test(tac) || rawMake === "") {
          skipped++;
          continue;
        }
        let make = makes.get(rawMake);
        if (make === undefined) {
          make = rawMake;
          makes.set(rawMake, make);
        }
        models.set(tac, { make, model: (fields[modelColumn] ?? "").trim() });
      }
    } catch (error) {
      if (error instanceof CsvSyntaxError) {
        throw new ImeifedError(Code.INVALID_ARGUMENT, "BAD_TAC_FILE", `${name}: ${error.message}`);
      }
      throw error;
    }
    return new TacDatabase(models, skipped);
  }

  /** Loads the operator's TAC file; a missing or unreadable file fails start-up with its path. */
  static async load(path: string): Promise<TacDatabase> {
    try {
      return await TacDatabase.read(createReadStream(path), path);
    } catch (error) {
      if (error instanceof ImeifedError) throw error;
      throw new ImeifedError(Code.INVALID_ARGUMENT, "BAD_TAC_FILE", `cannot read TAC file ${path}: ${(error as Error).message}`);
    }
  }

  /** The make and model of an 8-digit TAC, when the data knows it. */
  lookup(tac: string): TacModel | undefined {
    return this.#models.get(tac);
  }

  /** How many TACs are known. */
  get size(): number {
    return this.#models.size;
  }
}
