/**
 * `imeifed registry import`: loads a country's existing stolen list from CSV
 * into its registry database, all or nothing (format:
 * services/registry/import/README.md).
 */
import { createReadStream } from "node:fs";
import { access } from "node:fs/promises";
import { importCsv } from "../../services/registry/import/csv-import.js";
import { openStore } from "../../services/registry/store/open-store.js";
import { parseRegistryConfig } from "../../services/registry/registry-config.js";
import { Code, ImeifedError } from "../../errors/index.js";
import { parseFlags } from "../args.js";
import { EXIT_OK, UsageError, type Command } from "../command.js";

const USAGE = `usage: imeifed registry import --country CC (--db FILE | --postgres URL [--schema S]) FILE.csv

Imports the rows of FILE.csv (or - for standard input) as reports, in one
transaction: a bad row stops the import, naming its line and the problem, and
nothing of the import is kept. Rows already recorded under the same agency,
case reference and device are replays: they are counted and skipped, so a
corrected file can be imported again. Every imported record appends a change
(WatchChanges streams it). The format is in services/registry/import/README.md.

  --country CC     ISO 3166-1 alpha-2 code of the registry
  --db FILE        the registry's SQLite database (created and migrated if absent)
  --postgres URL   the registry's PostgreSQL database instead
  --schema S       the PostgreSQL schema (default registry_<cc>)`;

export const command: Command = {
  summary: "import a stolen list from CSV into a registry database",
  usage: USAGE,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, {
      country: { type: "string" },
      db: { type: "string" },
      postgres: { type: "string" },
      schema: { type: "string" },
    });
    if (positionals.length !== 1) throw new UsageError("name one CSV file (or - for standard input)");
    if (values.country === undefined) throw new UsageError("--country is required");
    if ((values.db === undefined) === (values.postgres === undefined)) throw new UsageError("give --db FILE or --postgres URL");
    const file = positionals[0]!;
    const config = parseRegistryConfig(
      {
        country: values.country,
        db: values.db !== undefined ? { sqlite: values.db } : { postgres: values.postgres, ...(values.schema ? { schema: values.schema } : {}) },
      },
      process.cwd(),
      "flags",
    );
    if (file !== "-") {
      await access(file).catch(() => {
        throw new ImeifedError(Code.INVALID_ARGUMENT, "IMPORT_FILE_UNREADABLE", `cannot read ${file}`);
      });
    }
    const started = Date.now();
    const store = await openStore(config.db, { country: config.country });
    try {
      const summary = await importCsv(store, file === "-" ? process.stdin : createReadStream(file));
      const seconds = (Date.now() - started) / 1000;
      console.log(
        `imported ${summary.rows} rows into the ${config.country} registry: ${summary.created} records created, ` +
          `${summary.replays} already recorded; last sequence ${summary.lastSequence} (epoch ${store.epoch}); ${seconds.toFixed(1)} s`,
      );
      return EXIT_OK;
    } finally {
      await store.close();
    }
  },
};
