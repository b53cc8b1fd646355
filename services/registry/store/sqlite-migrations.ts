/**
 * The SQLite schema, as numbered migrations applied in order at start. A
 * migration is never edited once released: add a new one.
 */
import { randomBytes, randomUUID } from "node:crypto";
import type Database from "better-sqlite3";

/** One schema step; `apply` runs inside the migration transaction. */
export interface SqliteMigration {
  readonly version: number;
  readonly name: string;
  apply(db: Database.Database): void;
}

export const SQLITE_MIGRATIONS: readonly SqliteMigration[] = [
  {
    version: 1,
    name: "records, changes, sightings, meta",
    apply(db) {
      db.exec(`
        CREATE TABLE registry_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
        CREATE TABLE records (
          id INTEGER PRIMARY KEY,
          device_key TEXT NOT NULL,
          agency TEXT NOT NULL,
          case_reference TEXT NOT NULL,
          status INTEGER NOT NULL,
          reason INTEGER NOT NULL,
          source_reason_code TEXT NOT NULL,
          occurred_at INTEGER,
          reported_at INTEGER NOT NULL,
          make TEXT NOT NULL,
          model TEXT NOT NULL,
          crime_reference TEXT NOT NULL,
          owner_name TEXT,
          owner_phone TEXT,
          owner_email TEXT,
          reported_seq INTEGER NOT NULL,
          cleared_at INTEGER,
          cleared_by TEXT,
          clear_reason INTEGER,
          clear_note TEXT,
          cleared_seq INTEGER
        );
        -- One index serves idempotency (agency, case, device) and every lookup by device key.
        CREATE UNIQUE INDEX records_device_case ON records (device_key, agency, case_reference);
        CREATE TABLE changes (
          seq INTEGER PRIMARY KEY,
          kind INTEGER NOT NULL,
          device_key TEXT NOT NULL,
          record_id INTEGER NOT NULL,
          status INTEGER NOT NULL,
          holding_record_id INTEGER,
          changed_at INTEGER NOT NULL,
          attestation TEXT
        );
        CREATE TABLE sightings (
          seq INTEGER PRIMARY KEY,
          record_id INTEGER NOT NULL,
          agency TEXT NOT NULL,
          device_key TEXT NOT NULL,
          kind INTEGER NOT NULL,
          seen_in_country TEXT NOT NULL,
          partner_kind TEXT NOT NULL,
          partner_id TEXT NOT NULL,
          seen_at INTEGER NOT NULL,
          purpose TEXT NOT NULL,
          found_location TEXT,
          found_holding_agency TEXT,
          found_contact TEXT,
          found_note TEXT
        );
        CREATE INDEX sightings_by_agency ON sightings (agency, seq);
      `);
      const meta = db.prepare("INSERT INTO registry_meta (key, value) VALUES (?, ?)");
      meta.run("epoch", randomUUID());
      meta.run("case_token_secret", randomBytes(32).toString("base64url"));
    },
  },
  {
    version: 2,
    name: "audit outbox",
    apply(db) {
      // Entries of changes bound for an audit log in another database (trust/audit/audit-outbox.ts).
      db.exec("CREATE TABLE audit_outbox (id INTEGER PRIMARY KEY, entry TEXT NOT NULL)");
    },
  },
];
