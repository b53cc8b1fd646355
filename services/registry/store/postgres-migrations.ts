/**
 * The PostgreSQL schema, as numbered migrations applied in order at start
 * (under an advisory lock, so registry processes starting together do not
 * race). A migration is never edited once released: add a new one.
 */
import { randomBytes, randomUUID } from "node:crypto";
import type { PoolClient } from "pg";

/** One schema step; `apply` runs inside the migration transaction. */
export interface PostgresMigration {
  readonly version: number;
  readonly name: string;
  apply(client: PoolClient): Promise<void>;
}

export const POSTGRES_MIGRATIONS: readonly PostgresMigration[] = [
  {
    version: 1,
    name: "records, changes, sightings, meta",
    async apply(client) {
      await client.query(`
        CREATE TABLE registry_meta (key text PRIMARY KEY, value text NOT NULL);
        CREATE TABLE records (
          id bigserial PRIMARY KEY,
          device_key text NOT NULL,
          agency text NOT NULL,
          case_reference text NOT NULL,
          status smallint NOT NULL,
          reason smallint NOT NULL,
          source_reason_code text NOT NULL,
          occurred_at bigint,
          reported_at bigint NOT NULL,
          make text NOT NULL,
          model text NOT NULL,
          crime_reference text NOT NULL,
          owner_name text,
          owner_phone text,
          owner_email text,
          reported_seq bigint NOT NULL,
          cleared_at bigint,
          cleared_by text,
          clear_reason smallint,
          clear_note text,
          cleared_seq bigint
        );
        -- One index serves idempotency (agency, case, device) and every lookup by device key.
        CREATE UNIQUE INDEX records_device_case ON records (device_key, agency, case_reference);
        CREATE TABLE changes (
          seq bigint PRIMARY KEY,
          kind smallint NOT NULL,
          device_key text NOT NULL,
          record_id bigint NOT NULL,
          status smallint NOT NULL,
          holding_record_id bigint,
          changed_at bigint NOT NULL,
          attestation text
        );
        CREATE TABLE sightings (
          seq bigint PRIMARY KEY,
          record_id bigint NOT NULL,
          agency text NOT NULL,
          device_key text NOT NULL,
          kind smallint NOT NULL,
          seen_in_country text NOT NULL,
          partner_kind text NOT NULL,
          partner_id text NOT NULL,
          seen_at bigint NOT NULL,
          purpose text NOT NULL,
          found_location text,
          found_holding_agency text,
          found_contact text,
          found_note text
        );
        CREATE INDEX sightings_by_agency ON sightings (agency, seq);
      `);
      await client.query("INSERT INTO registry_meta (key, value) VALUES ('epoch', $1), ('case_token_secret', $2)", [
        randomUUID(),
        randomBytes(32).toString("base64url"),
      ]);
    },
  },
  {
    version: 2,
    name: "audit outbox",
    async apply(client) {
      // Entries of changes bound for an audit log in another database (trust/audit/audit-outbox.ts).
      await client.query("CREATE TABLE audit_outbox (id bigserial PRIMARY KEY, entry text NOT NULL)");
    },
  },
];
