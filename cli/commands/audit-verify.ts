/**
 * `imeifed audit verify`: checks a server's hash-chained audit log and names
 * the first entry that was changed, removed, inserted or reordered, so a
 * registry (or an inspector) can trust its record of who asked what.
 */
import { parseFlags } from "../args.js";
import { EXIT_OK, UsageError, type Command } from "../command.js";
import { openAuditLog, verifyAuditChain, type AuditConfig } from "../../trust/audit/index.js";

/** Exit status when the chain was read and is broken (1 means it could not be read). */
export const EXIT_CHAIN_BROKEN = 2;

const USAGE = `usage: imeifed audit verify (--db FILE | --postgres URL [--schema S]) [--anchor SEQ:HASH]

Reads the audit_log table (read-only) and checks every entry's hash, its link
to the entry before it and the numbering. Prints how many entries verified and
the head (seq and hash), or names the first bad entry.

  --db FILE         a SQLite database holding audit_log (a registry's own file)
  --postgres URL    a PostgreSQL database holding audit_log
  --schema S        its schema (default public)
  --anchor SEQ:HASH a head printed by an earlier run: the log must still hold
                    that entry with that hash. Without it, entries cut from the
                    end or a chain recomputed from some point on go unnoticed;
                    keep the printed head somewhere the database's admins
                    cannot edit.

Exit status: 0 verified, 2 broken, 1 could not read the log, 64 usage error.`;

function parseAnchor(text: string): { seq: number; hash: string } {
  const match = /^(\d+):([0-9a-f]{64})$/.exec(text.trim());
  if (!match) throw new UsageError(`--anchor: ${JSON.stringify(text)} is not SEQ:HASH (a sequence number and a 64-hex-digit hash, as printed by audit verify)`);
  return { seq: Number(match[1]), hash: match[2]! };
}

export const command: Command = {
  summary: "verify a hash-chained audit log (SQLite or PostgreSQL) and name the first bad entry",
  usage: USAGE,
  async run(argv) {
    const { values } = parseFlags(argv, { db: { type: "string" }, postgres: { type: "string" }, schema: { type: "string" }, anchor: { type: "string" } }, false);
    if ((values.db === undefined) === (values.postgres === undefined)) throw new UsageError("give either --db FILE or --postgres URL");
    if (values.schema !== undefined && values.postgres === undefined) throw new UsageError("--schema goes with --postgres");
    const anchor = values.anchor === undefined ? undefined : parseAnchor(values.anchor);
    const config: AuditConfig = values.db !== undefined ? { sqlite: values.db } : { postgres: values.postgres!, ...(values.schema ? { schema: values.schema } : {}) };
    const log = await openAuditLog(config, { readOnly: true });
    try {
      const report = await verifyAuditChain(log, anchor ? { anchor } : {});
      if (!report.ok) {
        console.error(`imeifed audit verify: chain broken: ${report.message} (${report.entries} entries verified before it)`);
        return EXIT_CHAIN_BROKEN;
      }
      console.log(report.head ? `verified ${report.entries} entries; head ${report.head.seq}:${report.head.hash}` : "verified 0 entries (the log is empty)");
      return EXIT_OK;
    } finally {
      await log.close();
    }
  },
};
