/**
 * Where a registry keeps its audit log, and opening it there.
 *
 * By default the log lives in the store's own database: the SQLite file
 * itself, or the registry's PostgreSQL schema. A report, a clearing or a
 * sighting is then written with its audit entry in one transaction, so a
 * crash can never leave an acknowledged change without its entry (or an
 * entry for a change that did not happen): that is the database's own
 * atomicity, not a protocol of ours that could be got wrong. An `audit`
 * config naming that same database means the same.
 *
 * An `audit` config naming another database keeps working, through the
 * store's outbox (trust/audit/audit-outbox.ts): the entry is written to the
 * outbox in the change's transaction, then appended to the other log
 * durably before the answer; what a crash leaves in between is appended at
 * the next start, before the registry serves. No change loses its entry,
 * but until that restart the log lacks it: keep the log in the store's
 * database unless it must be elsewhere.
 *
 * A registry that ran with the earlier default, `<db>.audit.sqlite` beside
 * its SQLite file, has that chain moved into the store's file at start,
 * every row as it was (earlier anchors still hold); the old file is then
 * renamed `<name>.moved`, kept, never deleted.
 */
import { existsSync, renameSync } from "node:fs";
import { basename, dirname, extname, join, resolve } from "node:path";
import { openAuditLog, type AuditConfig, type AuditLog } from "../../trust/audit/index.js";
import { SqliteAuditLog } from "../../trust/audit/sqlite-audit-log.js";
import type { RegistryConfig } from "./registry-config.js";
import { defaultSchema } from "./store/open-store.js";
import type { RegistryStore } from "./store/registry-store.js";

/** `dir/gb.sqlite` → `dir/gb<suffix>`. */
export function siblingOf(file: string, suffix: string): string {
  return join(dirname(file), `${basename(file, extname(file))}${suffix}`);
}

/** Where a registry's SQLite audit log lived before it moved into the store's file. */
export function legacyAuditFileOf(sqliteStore: string): string {
  return siblingOf(sqliteStore, ".audit.sqlite");
}

/** True when `audit` names the store's own database (same SQLite file; same PostgreSQL database and schema). */
function inStoreDatabase(config: RegistryConfig, audit: AuditConfig): boolean {
  if ("sqlite" in config.db) return "sqlite" in audit && resolve(audit.sqlite) === resolve(config.db.sqlite);
  return "postgres" in audit && audit.postgres === config.db.postgres && (audit.schema ?? "public") === (config.db.schema ?? defaultSchema(config.country));
}

/** Opens the registry's audit log; see the module comment. */
export async function openRegistryAudit(config: RegistryConfig, store: RegistryStore): Promise<AuditLog> {
  if (config.audit && !inStoreDatabase(config, config.audit)) {
    const log = await openAuditLog(config.audit);
    try {
      await store.relayAuditTo(log);
    } catch (error) {
      await log.close().catch(() => undefined);
      throw error;
    }
    return log;
  }
  const log = await store.openAuditLog();
  if (config.audit === undefined && "sqlite" in config.db) {
    const legacy = legacyAuditFileOf(config.db.sqlite);
    if (existsSync(legacy)) {
      try {
        if (!(log instanceof SqliteAuditLog)) throw new Error("a SQLite store opens a SQLite audit log");
        log.adoptChainFrom(legacy);
      } catch (error) {
        await log.close().catch(() => undefined);
        throw error;
      }
      // Only once its rows are committed here: a crash before the rename finds them here and just renames.
      renameSync(legacy, `${legacy}.moved`);
    }
  }
  return log;
}
