/**
 * The RegistryStore on PostgreSQL, for a country that outgrows one machine:
 * several registry processes share one database (one schema per registry).
 *
 * Sequence order equals commit order: every writing transaction first takes
 * a transaction-scoped advisory lock for this registry's change log, so the
 * next sequence number is read and used by one transaction at a time, and
 * the lock is released only by its COMMIT. A reader asking for `seq > n` can
 * therefore never see n+2 before n+1.
 *
 * Every writing transaction also NOTIFYs this registry's channel (delivered
 * at commit); each process LISTENs on a dedicated connection and wakes its
 * own watchers, so a report written through one process reaches the
 * WatchChanges streams of all of them. If that connection drops, the store
 * reconnects with backoff and polls meanwhile.
 */
import { createHash } from "node:crypto";
import pg from "pg";
import { ChangeKind } from "../../../gen/imeifed/v1/registry_pb.js";
import { DeviceStatus } from "../../../gen/imeifed/v1/device_pb.js";
import { Code, ImeifedError } from "../../../errors/index.js";
import type { DeviceKey } from "../../../device/index.js";
import type { AuditBufferOptions } from "../../../trust/audit/audit-buffer.js";
import type { AuditLog, ChangeAudit } from "../../../trust/audit/audit-log.js";
import { outboxEntry, outboxText, relayOutbox, type OutboxRow } from "../../../trust/audit/audit-outbox.js";
import { PostgresAuditLog } from "../../../trust/audit/postgres-audit-log.js";
import { ChangeFeed } from "../change-feed.js";
import { caseClearedError } from "./case-cleared.js";
import { changeFromRow, sightingFromRow, type ChangeRow, type SightingRow } from "./change-row.js";
import { replayedClearing, selectClearable } from "./clear-selection.js";
import { asStoreUnavailable } from "./store-unavailable.js";
import { holdingRecord } from "./holding-record.js";
import { importRows } from "./postgres-import.js";
import { OPEN_RECORDS_FOR_KEY, OPEN_RECORDS_FOR_KEYS, POSTGRES_SESSION_SETTINGS, RECORDS_BY_ID } from "./postgres-lookups.js";
import { POSTGRES_MIGRATIONS } from "./postgres-migrations.js";
import { RECORD_COLUMNS, recordFromRow, recordInsertValues, type RecordRow } from "./record-row.js";
import type {
  ClearInput,
  ClearOutcome,
  ImportRow,
  ImportSummary,
  RegistryStore,
  ReportInput,
  ReportOutcome,
  SightingInput,
  SightingOutcome,
  StoredChange,
  StoredRecord,
  StoredSighting,
} from "./registry-store.js";

export interface PostgresStoreOptions {
  /** A libpq connection string, e.g. `postgres://postgres@127.0.0.1:5432/imeifed`. */
  readonly url: string;
  /** The schema holding this registry's tables (created if absent). */
  readonly schema: string;
  readonly caseTokenSecret?: string | undefined;
  /** Pool size (default 10). */
  readonly poolSize?: number;
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Opens (and migrates) a PostgreSQL registry schema. */
export async function openPostgresStore(options: PostgresStoreOptions): Promise<RegistryStore> {
  return PostgresRegistryStore.open(options);
}

/** The NOTIFY channel of one registry schema (an identifier of at most 63 bytes). */
function channelOf(schema: string): string {
  const plain = `imeifed_${schema}`;
  return plain.length <= 63 ? plain : `imeifed_${createHash("sha256").update(schema).digest("hex").slice(0, 32)}`;
}

const q = {
  lockChanges: "SELECT pg_advisory_xact_lock(hashtext($1))",
  nextSeq: { name: "next-seq", text: "SELECT coalesce(max(seq), 0) + 1 AS seq FROM changes" },
  byCase: { name: "by-case", text: `SELECT ${RECORD_COLUMNS} FROM records WHERE device_key = $1 AND agency = $2 AND case_reference = $3` },
  forKey: { name: "for-key", text: `SELECT ${RECORD_COLUMNS} FROM records WHERE device_key = $1` },
  // The lookups by key and by id: see postgres-lookups.ts for why they take this shape.
  openForKeys: OPEN_RECORDS_FOR_KEYS,
  openForKey: OPEN_RECORDS_FOR_KEY,
  insertRecord: {
    name: "insert-record",
    text: `INSERT INTO records (device_key, agency, case_reference, status, reason, source_reason_code, occurred_at, reported_at,
             make, model, crime_reference, owner_name, owner_phone, owner_email, reported_seq)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id`,
  },
  insertChange: {
    name: "insert-change",
    text: "INSERT INTO changes (seq, kind, device_key, record_id, status, holding_record_id, changed_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
  },
  clearRecord: {
    name: "clear-record",
    text: "UPDATE records SET cleared_at = $1, cleared_by = $2, clear_reason = $3, clear_note = $4, cleared_seq = $5 WHERE id = $6",
  },
  changesAfter: {
    name: "changes-after",
    text: "SELECT seq, kind, device_key, record_id, status, holding_record_id, changed_at, attestation FROM changes WHERE seq > $1 ORDER BY seq LIMIT $2",
  },
  recordsById: RECORDS_BY_ID,
  sightingsAfter: {
    name: "sightings-after",
    text: `SELECT s.*, r.case_reference FROM sightings s JOIN records r ON r.id = s.record_id
           WHERE s.agency = $1 AND s.seq > $2 ORDER BY s.seq LIMIT $3`,
  },
} as const;

class PostgresRegistryStore implements RegistryStore {
  readonly kind = "postgres" as const;
  readonly changeFeed = new ChangeFeed();
  readonly sightingFeed = new ChangeFeed();
  readonly #pool: pg.Pool;
  readonly #schema: string;
  readonly #channel: string;
  readonly #url: string;
  #listener: pg.Client | undefined;
  #listening = false;
  #reconnect: NodeJS.Timeout | undefined;
  readonly #poll: NodeJS.Timeout;
  #closed = false;
  /** The audit log in this schema, on this pool: a change's entry joins the change's transaction. */
  #audit: PostgresAuditLog | undefined;
  /** An audit log in another database, reached through the outbox. */
  #relay: AuditLog | undefined;

  private constructor(
    pool: pg.Pool,
    options: PostgresStoreOptions,
    readonly epoch: string,
    readonly caseTokenSecret: Buffer,
  ) {
    this.#pool = pool;
    this.#schema = options.schema;
    this.#url = options.url;
    this.#channel = channelOf(options.schema);
    // A safety net only while the LISTEN connection is down.
    this.#poll = setInterval(() => {
      if (!this.#listening && !this.#closed) {
        if (this.changeFeed.waiting > 0) this.changeFeed.notify();
        if (this.sightingFeed.waiting > 0) this.sightingFeed.notify();
      }
    }, 500);
    this.#poll.unref();
  }

  static async open(options: PostgresStoreOptions): Promise<PostgresRegistryStore> {
    if (!SCHEMA_NAME.test(options.schema)) {
      throw new ImeifedError(
        Code.INVALID_ARGUMENT,
        "BAD_SCHEMA",
        `schema ${JSON.stringify(options.schema)} must be a lower-case SQL identifier (letters, digits, underscores)`,
      );
    }
    const pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize ?? 10,
      options: `-c search_path=${options.schema} ${POSTGRES_SESSION_SETTINGS}`,
      application_name: `imeifed registry ${options.schema}`,
    });
    // An idle client that dies must not crash the process; the next query reconnects.
    pool.on("error", () => {});
    try {
      await migrate(pool, options.schema);
      const meta = await pool.query<{ key: string; value: string }>("SELECT key, value FROM registry_meta WHERE key IN ('epoch', 'case_token_secret')");
      const value = (key: string) => meta.rows.find((r) => r.key === key)?.value ?? "";
      const store = new PostgresRegistryStore(pool, options, value("epoch"), Buffer.from(options.caseTokenSecret ?? value("case_token_secret"), "utf8"));
      await store.#listen();
      return store;
    } catch (error) {
      await pool.end().catch(() => {});
      throw error;
    }
  }

  async #listen(): Promise<void> {
    const client = new pg.Client({ connectionString: this.#url, application_name: `imeifed registry ${this.#schema} listen` });
    const retry = () => {
      this.#listening = false;
      client.removeAllListeners();
      client.on("error", () => {});
      client.end().catch(() => {});
      if (this.#closed || this.#reconnect) return;
      this.#reconnect = setTimeout(() => {
        this.#reconnect = undefined;
        this.#listen().catch(() => retry());
      }, 1_000);
      this.#reconnect.unref();
    };
    client.on("error", retry);
    client.on("end", retry);
    client.on("notification", (message) => {
      if (message.payload === "s") this.sightingFeed.notify();
      else this.changeFeed.notify();
    });
    await client.connect();
    await client.query(`LISTEN "${this.#channel}"`);
    if (this.#closed) {
      client.removeAllListeners();
      await client.end().catch(() => {});
      return;
    }
    this.#listener = client;
    this.#listening = true;
    // Whatever was committed while nobody listened is read now.
    this.changeFeed.notify();
    this.sightingFeed.notify();
  }

  async openAuditLog(options: AuditBufferOptions = {}): Promise<PostgresAuditLog> {
    if (this.#audit || this.#relay) throw new Error("the store's audit log is already chosen");
    this.#audit = await PostgresAuditLog.open(this.#pool, { ...options, schema: this.#schema });
    return this.#audit;
  }

  async relayAuditTo(log: AuditLog): Promise<void> {
    if (this.#audit || this.#relay) throw new Error("the store's audit log is already chosen");
    // Rows another process is relaying right now are locked by it: skipped here, relayed there.
    await this.#outboxTransaction(async (client) => {
      const { rows } = await client.query<{ id: string; entry: string }>("SELECT id, entry FROM audit_outbox ORDER BY id FOR UPDATE SKIP LOCKED");
      await relayOutbox(
        rows.map((r) => ({ id: Number(r.id), entry: outboxEntry(r.entry) })),
        log,
        async (id) => void (await client.query("DELETE FROM audit_outbox WHERE id = $1", [id])),
      );
    });
    this.#relay = log;
  }

  /**
   * After the change's commit: takes its row out of the outbox and appends
   * its entry to the other audit log, durably, in one transaction here. A
   * start-up relay that took the row first leaves nothing to take: the entry
   * is then already in the log.
   */
  async #relayCommitted(relayed: OutboxRow | undefined): Promise<void> {
    if (!relayed) return;
    await this.#outboxTransaction(async (client) => {
      const taken = await client.query("DELETE FROM audit_outbox WHERE id = $1", [relayed.id]);
      if (taken.rowCount === 1) await this.#relay!.appendDurably(relayed.entry);
    });
  }

  async #outboxTransaction(work: (client: pg.PoolClient) => Promise<void>): Promise<void> {
    const client = await this.#pool.connect().catch((error: unknown) => {
      throw asStoreUnavailable(error);
    });
    try {
      await client.query("BEGIN");
      await work(client);
      await client.query("COMMIT");
    } catch (error) {
      await client.query("ROLLBACK").catch(() => {});
      throw asStoreUnavailable(error);
    } finally {
      client.release();
    }
  }

  /**
   * Runs `work` in a transaction holding this registry's change-log lock, and NOTIFYs at commit.
   * A call's `audit` entry is written last, just before COMMIT: into the chain when the audit log
   * lives here, else into the outbox, and relayed after the commit.
   */
  async #write<T>(
    lock: "changes" | "sightings",
    work: (client: pg.PoolClient) => Promise<T>,
    notify: (result: T) => boolean,
    audit?: ChangeAudit<T>,
  ): Promise<T> {
    const client = await this.#pool.connect().catch((error: unknown) => {
      throw asStoreUnavailable(error);
    });
    let relayed: OutboxRow | undefined;
    let committed: T;
    try {
      await client.query("BEGIN");
      await client.query(q.lockChanges, [`imeifed:${this.#schema}:${lock}`]);
      const result = await work(client);
      if (audit && this.#audit) await this.#audit.appendWithin(client, [audit(result)]);
      else if (audit && this.#relay) {
        const entry = audit(result);
        const { rows } = await client.query<{ id: string }>("INSERT INTO audit_outbox (entry) VALUES ($1) RETURNING id", [outboxText(entry)]);
        relayed = { id: Number(rows[0]!.id), entry };
      }
      if (notify(result)) await client.query("SELECT pg_notify($1, $2)", [this.#channel, lock === "sightings" ? "s" : "c"]);
      await client.query("COMMIT");
      committed = result;
    } catch (error) {
      await client.query("ROLLBACK").catch(() => {});
      throw asStoreUnavailable(error);
    } finally {
      client.release();
    }
    await this.#relayCommitted(relayed);
    return committed;
  }

  /** A query outside a write transaction, with a lost connection reported as UNAVAILABLE. */
  async #query<R extends pg.QueryResultRow>(config: pg.QueryConfig): Promise<pg.QueryResult<R>> {
    try {
      return await this.#pool.query<R>(config);
    } catch (error) {
      throw asStoreUnavailable(error);
    }
  }

  async report(input: ReportInput, audit?: ChangeAudit<ReportOutcome[]>): Promise<ReportOutcome[]> {
    const outcomes = await this.#write(
      "changes",
      async (client) => {
        const now = Date.now();
        const reportedAt = input.reportedAt ?? now;
        let seq = Number((await client.query<{ seq: string }>(q.nextSeq)).rows[0]!.seq);
        const outcomes: ReportOutcome[] = [];
        for (const key of input.deviceKeys) {
          const existing = (await client.query<RecordRow>({ ...q.byCase, values: [key, input.agency, input.caseReference] })).rows[0];
          if (existing) {
            const record = recordFromRow(existing);
            if (record.cleared) throw caseClearedError(record);
            outcomes.push({ record, created: false, sequence: record.reportedSeq });
            continue;
          }
          const inserted = await client.query<{ id: string }>({
            ...q.insertRecord,
            values: recordInsertValues(key, input, reportedAt, seq),
          });
          const id = String(inserted.rows[0]!.id);
          const open = (await client.query<RecordRow>({ ...q.openForKeys, values: [[key]] })).rows.map(recordFromRow);
          const holding = holdingRecord(open);
          await client.query({
            ...q.insertChange,
            values: [seq, ChangeKind.REPORTED, key, id, holding?.status ?? DeviceStatus.PERMITTED, holding?.id ?? null, now],
          });
          outcomes.push({ record: open.find((r) => r.id === id)!, created: true, sequence: seq });
          seq++;
        }
        return outcomes;
      },
      (outcomes) => outcomes.some((o) => o.created),
      audit,
    );
    if (outcomes.some((o) => o.created)) this.changeFeed.notify();
    return outcomes;
  }

  async clear(input: ClearInput, audit?: ChangeAudit<ClearOutcome>): Promise<ClearOutcome> {
    const outcome = await this.#write(
      "changes",
      async (client): Promise<ClearOutcome & { wrote: boolean }> => {
        const all = (await client.query<RecordRow>({ ...q.forKey, values: [input.deviceKey] })).rows.map(recordFromRow);
        const selection = selectClearable(all, input);
        if (selection.kind === "replay") return replayedClearing(all, selection.records);
        const at = input.clearedAt ?? Date.now();
        let seq = Number((await client.query<{ seq: string }>(q.nextSeq)).rows[0]!.seq);
        const stillOpen = new Map(all.filter((r) => r.cleared === undefined).map((r) => [r.id, r]));
        const cleared: StoredRecord[] = [];
        for (const record of selection.records) {
          await client.query({ ...q.clearRecord, values: [at, input.requester, input.reason, input.note, seq, record.id] });
          stillOpen.delete(record.id);
          const holding = holdingRecord(stillOpen.values());
          await client.query({
            ...q.insertChange,
            values: [seq, ChangeKind.CLEARED, input.deviceKey, record.id, holding?.status ?? DeviceStatus.PERMITTED, holding?.id ?? null, at],
          });
          cleared.push({ ...record, cleared: { at, by: input.requester, reason: input.reason, note: input.note, seq } });
          seq++;
        }
        return { cleared, status: holdingRecord(stillOpen.values())?.status ?? DeviceStatus.PERMITTED, sequence: seq - 1, wrote: true };
      },
      (outcome) => outcome.wrote,
      audit,
    );
    if (outcome.wrote) this.changeFeed.notify();
    return { cleared: outcome.cleared, status: outcome.status, sequence: outcome.sequence };
  }

  async openRecords(keys: readonly DeviceKey[]): Promise<Map<DeviceKey, StoredRecord[]>> {
    const found = new Map<DeviceKey, StoredRecord[]>();
    if (keys.length === 0) return found;
    // One key (a lookup's question): a plain indexed equality.
    const { rows } = await this.#query<RecordRow>(keys.length === 1 ? { ...q.openForKey, values: [keys[0]] } : { ...q.openForKeys, values: [keys] });
    // A key asked twice yields its rows twice: take each record once.
    const seen = rows.length > 1 ? new Set<string>() : undefined;
    for (const row of rows) {
      if (seen) {
        if (seen.has(String(row.id))) continue;
        seen.add(String(row.id));
      }
      const record = recordFromRow(row);
      const list = found.get(record.deviceKey);
      if (list) list.push(record);
      else found.set(record.deviceKey, [record]);
    }
    return found;
  }

  async changesAfter(seq: number, limit: number): Promise<StoredChange[]> {
    const { rows } = await this.#query<ChangeRow>({ ...q.changesAfter, values: [seq, limit] });
    if (rows.length === 0) return [];
    const ids = new Set<string>();
    for (const row of rows) {
      ids.add(String(row.record_id));
      if (row.holding_record_id !== null) ids.add(String(row.holding_record_id));
    }
    const records = new Map<string, StoredRecord>();
    for (const row of (await this.#query<RecordRow>({ ...q.recordsById, values: [[...ids]] })).rows) {
      const record = recordFromRow(row);
      records.set(record.id, record);
    }
    return rows.map((row) => changeFromRow(row, records));
  }

  async lastSequence(): Promise<number> {
    return Number((await this.#query<{ seq: string }>(q.nextSeq)).rows[0]!.seq) - 1;
  }

  async saveChangeAttestations(signed: ReadonlyArray<{ seq: number; attestation: string }>): Promise<void> {
    if (signed.length === 0) return;
    await this.#query({
      text: `UPDATE changes c SET attestation = s.attestation
       FROM unnest($1::bigint[], $2::text[]) AS s(seq, attestation)
       WHERE c.seq = s.seq AND c.attestation IS NULL`,
      values: [signed.map((s) => s.seq), signed.map((s) => s.attestation)],
    });
  }

  async recordSightings(inputs: readonly SightingInput[], audit?: ChangeAudit<SightingOutcome[]>): Promise<SightingOutcome[]> {
    if (inputs.length === 0) return [];
    const outcomes = await this.#write(
      "sightings",
      async (client): Promise<SightingOutcome[]> => {
        // One query for every device's open records, then one multi-row insert: a batch costs a few round trips, not one per sighting.
        const keys = [...new Set(inputs.map((i) => i.deviceKey))];
        const openByKey = new Map<string, StoredRecord[]>();
        for (const row of (await client.query<RecordRow>({ ...q.openForKeys, values: [keys] })).rows) {
          const record = recordFromRow(row);
          const list = openByKey.get(record.deviceKey);
          if (list) list.push(record);
          else openByKey.set(record.deviceKey, [record]);
        }
        let seq = Number((await client.query<{ seq: string }>("SELECT coalesce(max(seq), 0) + 1 AS seq FROM sightings")).rows[0]!.seq);
        const columns: unknown[][] = Array.from({ length: 14 }, () => []);
        const outcomes = inputs.map((input): SightingOutcome => {
          // In record id order: the query's row order is unspecified, and a sighting's sequence should not depend on it.
          const open = (openByKey.get(input.deviceKey) ?? []).slice().sort((a, b) => Number(a.id) - Number(b.id));
          for (const record of open) {
            const row = [seq++, record.id, record.agency, input.deviceKey, input.kind, input.seenInCountry, input.partnerKind, input.partnerId, input.seenAt, input.purpose,
              input.found?.location ?? null, input.found?.holdingAgency ?? null, input.found?.contact ?? null, input.found?.note ?? null];
            row.forEach((value, c) => columns[c]!.push(value));
          }
          return open.length > 0 ? { recorded: true, sequence: seq - 1 } : { recorded: false, sequence: 0 };
        });
        if (columns[0]!.length > 0) {
          await client.query(
            `INSERT INTO sightings (seq, record_id, agency, device_key, kind, seen_in_country, partner_kind, partner_id, seen_at, purpose,
               found_location, found_holding_agency, found_contact, found_note)
             SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[], $4::text[], $5::smallint[], $6::text[], $7::text[], $8::text[], $9::bigint[], $10::text[],
               $11::text[], $12::text[], $13::text[], $14::text[])`,
            columns,
          );
        }
        return outcomes;
      },
      (outcomes) => outcomes.some((o) => o.recorded),
      audit,
    );
    if (outcomes.some((o) => o.recorded)) this.sightingFeed.notify();
    return outcomes;
  }

  async sightingsAfter(agency: string, seq: number, limit: number): Promise<StoredSighting[]> {
    const { rows } = await this.#query<SightingRow>({ ...q.sightingsAfter, values: [agency, seq, limit] });
    return rows.map(sightingFromRow);
  }

  async importReports(rows: AsyncIterable<ImportRow>): Promise<ImportSummary> {
    const summary = await this.#write("changes", (client) => importRows(client, rows), (summary) => summary.created > 0);
    if (summary.created > 0) {
      this.changeFeed.notify();
      // A bulk load leaves the planner with no statistics until autovacuum comes by. The lookups
      // do not depend on them, but every other plan does: gather them now. Best effort: the
      // import has committed, and autovacuum analyzes the tables later all the same.
      await this.#query({ text: "ANALYZE records, changes" }).catch(() => {});
    }
    return summary;
  }

  async meta(key: string): Promise<string | undefined> {
    return (await this.#query<{ value: string }>({ text: "SELECT value FROM registry_meta WHERE key = $1", values: [key] })).rows[0]?.value;
  }

  async metaSetIfAbsent(key: string, value: string): Promise<string> {
    await this.#query({ text: "INSERT INTO registry_meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING", values: [key, value] });
    return (await this.meta(key))!;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#poll);
    clearTimeout(this.#reconnect);
    // Its queued entries are written before the pool they share ends.
    await this.#audit?.close();
    const listener = this.#listener;
    this.#listener = undefined;
    this.#listening = false;
    if (listener) {
      listener.removeAllListeners();
      listener.on("error", () => {});
      await listener.end().catch(() => {});
    }
    this.changeFeed.notify();
    this.sightingFeed.notify();
    await this.#pool.end();
  }
}

/** Runs the migrations under a session advisory lock. */
async function migrate(pool: pg.Pool, schema: string): Promise<void> {
  const client = await pool.connect();
  const lockKey = `imeifed:${schema}:migrate`;
  try {
    await client.query("SELECT pg_advisory_lock(hashtext($1))", [lockKey]);
    try {
      await client.query(`CREATE SCHEMA IF NOT EXISTS "${schema}"`);
      await client.query("CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at bigint NOT NULL)");
      const current = Number((await client.query<{ v: number }>("SELECT coalesce(max(version), 0) AS v FROM schema_migrations")).rows[0]!.v);
      const latest = POSTGRES_MIGRATIONS.at(-1)?.version ?? 0;
      if (current > latest) {
        throw new ImeifedError(
          Code.FAILED_PRECONDITION,
          "SCHEMA_TOO_NEW",
          `the registry schema ${schema} is at version ${current} but this imeifed knows only up to ${latest}; upgrade imeifed`,
        );
      }
      for (const migration of POSTGRES_MIGRATIONS) {
        if (migration.version <= current) continue;
        await client.query("BEGIN");
        try {
          await migration.apply(client);
          await client.query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)", [migration.version, migration.name, Date.now()]);
          await client.query("COMMIT");
        } catch (error) {
          await client.query("ROLLBACK").catch(() => {});
          throw error;
        }
      }
    } finally {
      await client.query("SELECT pg_advisory_unlock(hashtext($1))", [lockKey]);
    }
  } finally {
    client.release();
  }
}
