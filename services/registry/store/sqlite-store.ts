/**
 * The default RegistryStore: one SQLite file through better-sqlite3, in WAL
 * mode.
 *
 * Durability: `synchronous = FULL` makes every commit fsync the WAL before the
 * call returns, so an acknowledged report survives `kill -9` and a power cut.
 * (`NORMAL` would survive `kill -9` too, since the WAL write has reached the
 * OS before COMMIT returns, but could lose the last commits on power loss;
 * reports are rare next to checks, so the fsync is cheap insurance.)
 *
 * One process writes at a time (BEGIN IMMEDIATE takes SQLite's write lock), so
 * sequences are handed out in commit order. Watchers in this process are woken
 * directly after each commit; commits by another process (an import running
 * beside the server) are noticed by polling `PRAGMA data_version`, a read of
 * one in-memory counter, while someone is watching.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import Database from "better-sqlite3";
import { ChangeKind } from "../../../gen/imeifed/v1/registry_pb.js";
import { DeviceStatus } from "../../../gen/imeifed/v1/device_pb.js";
import { Code, ImeifedError } from "../../../errors/index.js";
import type { DeviceKey } from "../../../device/index.js";
import { SqliteAuditLog } from "../../../trust/audit/sqlite-audit-log.js";
import type { AuditBufferOptions } from "../../../trust/audit/audit-buffer.js";
import type { AuditLog, ChangeAudit } from "../../../trust/audit/audit-log.js";
import { outboxEntry, outboxText, relayOutbox, type OutboxRow } from "../../../trust/audit/audit-outbox.js";
import { ChangeFeed } from "../change-feed.js";
import { caseClearedError } from "./case-cleared.js";
import { replayedClearing, selectClearable } from "./clear-selection.js";
import { asStoreUnavailable } from "./store-unavailable.js";
import { holdingRecord } from "./holding-record.js";
import { changeFromRow, sightingFromRow, type ChangeRow, type SightingRow } from "./change-row.js";
import { RECORD_COLUMNS, recordFromRow, recordInsertValues, type RecordRow } from "./record-row.js";
import { SQLITE_MIGRATIONS } from "./sqlite-migrations.js";
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

export interface SqliteStoreOptions {
  /** The database file; created with its directory if absent. */
  readonly path: string;
  /** Overrides the case-token key made at the first migration. */
  readonly caseTokenSecret?: string | undefined;
  /** How often to look for other processes' commits while someone watches (default 200 ms). */
  readonly pollMs?: number;
}

/** Opens (and migrates) a SQLite registry database. */
export async function openSqliteStore(options: SqliteStoreOptions): Promise<RegistryStore> {
  return SqliteRegistryStore.open(options);
}

function connect(path: string): Database.Database {
  mkdirSync(dirname(path), { recursive: true });
  const db = new Database(path);
  db.pragma("journal_mode = WAL");
  db.pragma("synchronous = FULL");
  // Another process (an import) may hold the write lock for a while; starting up or importing may wait for it.
  db.pragma("busy_timeout = 10000");
  return db;
}

/**
 * How long the serving connection waits for another process's write lock.
 * better-sqlite3 waits synchronously, blocking every call of the process,
 * so a write that finds an import running gives up quickly with UNAVAILABLE.
 */
const SERVING_BUSY_TIMEOUT_MS = 50;

/** RECORD_COLUMNS of the `records AS r` side of a join. */
const RECORD_COLUMNS_OF_R = RECORD_COLUMNS.split(", ").map((column) => `r.${column}`).join(", ");

/** Runs a write of the serving connection, reporting a lock held elsewhere as UNAVAILABLE. */
function writing<T>(write: () => T): T {
  try {
    return write();
  } catch (error) {
    throw asStoreUnavailable(error);
  }
}

function migrate(db: Database.Database): void {
  db.exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)");
  db.transaction(() => {
    const current = (db.prepare("SELECT coalesce(max(version), 0) AS v FROM schema_migrations").get() as { v: number }).v;
    const latest = SQLITE_MIGRATIONS.at(-1)?.version ?? 0;
    if (current > latest) {
      throw new ImeifedError(
        Code.FAILED_PRECONDITION,
        "SCHEMA_TOO_NEW",
        `the registry database is at schema version ${current} but this imeifed knows only up to ${latest}; upgrade imeifed`,
      );
    }
    const record = db.prepare("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)");
    for (const migration of SQLITE_MIGRATIONS) {
      if (migration.version <= current) continue;
      migration.apply(db);
      record.run(migration.version, migration.name, Date.now());
    }
  }).immediate();
}

/** The prepared statements of one connection (the server's, or an import's own). */
class Statements {
  readonly nextSeq;
  readonly forKey;
  readonly openForKey;
  readonly insertRecord;
  readonly insertChange;
  readonly clearRecord;
  constructor(readonly db: Database.Database) {
    this.nextSeq = db.prepare("SELECT coalesce(max(seq), 0) + 1 AS seq FROM changes").pluck();
    this.forKey = db.prepare(`SELECT ${RECORD_COLUMNS} FROM records WHERE device_key = ?`);
    this.openForKey = db.prepare(`SELECT ${RECORD_COLUMNS} FROM records WHERE device_key = ? AND cleared_at IS NULL`);
    this.insertRecord = db.prepare(
      `INSERT INTO records (device_key, agency, case_reference, status, reason, source_reason_code, occurred_at, reported_at,
         make, model, crime_reference, owner_name, owner_phone, owner_email, reported_seq)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    this.insertChange = db.prepare(
      "INSERT INTO changes (seq, kind, device_key, record_id, status, holding_record_id, changed_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
    );
    this.clearRecord = db.prepare(
      "UPDATE records SET cleared_at = ?, cleared_by = ?, clear_reason = ?, clear_note = ?, cleared_seq = ? WHERE id = ?",
    );
  }

  /**
   * Writes one report inside the caller's transaction, numbering its changes
   * from `seq` (the caller holds the write lock, so nobody else numbers
   * meanwhile); `line` names an import row in errors. One read per device key
   * (all its records) decides replay, refusal and the status afterwards.
   */
  writeReport(input: ReportInput, seq: number, line?: number): { outcomes: ReportOutcome[]; nextSeq: number } {
    const now = Date.now();
    const reportedAt = input.reportedAt ?? now;
    const outcomes: ReportOutcome[] = [];
    for (const key of input.deviceKeys) {
      const all = (this.forKey.all(key) as RecordRow[]).map(recordFromRow);
      const existing = all.find((r) => r.agency === input.agency && r.caseReference === input.caseReference);
      if (existing) {
        if (existing.cleared) throw caseClearedError(existing, line);
        outcomes.push({ record: existing, created: false, sequence: existing.reportedSeq });
        continue;
      }
      const { lastInsertRowid } = this.insertRecord.run(...recordInsertValues(key, input, reportedAt, seq));
      const record: StoredRecord = {
        id: String(lastInsertRowid),
        deviceKey: key,
        agency: input.agency,
        caseReference: input.caseReference,
        status: input.status,
        reason: input.reason,
        sourceReasonCode: input.sourceReasonCode,
        occurredAt: input.occurredAt,
        reportedAt,
        make: input.make,
        model: input.model,
        crimeReference: input.crimeReference,
        reportedSeq: seq,
        cleared: undefined,
      };
      const holding = holdingRecord([...all.filter((r) => r.cleared === undefined), record]);
      this.insertChange.run(seq, ChangeKind.REPORTED, key, record.id, holding?.status ?? DeviceStatus.PERMITTED, holding?.id ?? null, now);
      outcomes.push({ record, created: true, sequence: seq });
      seq++;
    }
    return { outcomes, nextSeq: seq };
  }
}

class SqliteRegistryStore implements RegistryStore {
  readonly kind = "sqlite" as const;
  readonly changeFeed = new ChangeFeed();
  readonly sightingFeed = new ChangeFeed();
  readonly #db: Database.Database;
  readonly #path: string;
  readonly #st: Statements;
  readonly #poll: NodeJS.Timeout;
  #dataVersion: number;
  #closed = false;
  /** The audit log in this file, on this connection: a change's entry joins the change's transaction. */
  #audit: SqliteAuditLog | undefined;
  /** An audit log in another database, reached through the outbox. */
  #relay: AuditLog | undefined;
  readonly epoch: string;
  readonly caseTokenSecret: Buffer;

  private constructor(path: string, db: Database.Database, options: SqliteStoreOptions) {
    this.#path = path;
    this.#db = db;
    this.#st = new Statements(db);
    const meta = db.prepare("SELECT value FROM registry_meta WHERE key = ?").pluck();
    this.epoch = meta.get("epoch") as string;
    this.caseTokenSecret = Buffer.from(options.caseTokenSecret ?? (meta.get("case_token_secret") as string), "utf8");
    this.#dataVersion = db.pragma("data_version", { simple: true }) as number;
    db.pragma(`busy_timeout = ${SERVING_BUSY_TIMEOUT_MS}`);
    this.#poll = setInterval(() => this.#pollOtherProcesses(), options.pollMs ?? 200);
    this.#poll.unref();
  }

  static async open(options: SqliteStoreOptions): Promise<SqliteRegistryStore> {
    const db = connect(options.path);
    try {
      migrate(db);
      return new SqliteRegistryStore(options.path, db, options);
    } catch (error) {
      db.close();
      throw error;
    }
  }

  #pollOtherProcesses(): void {
    if (this.#closed || (this.changeFeed.waiting === 0 && this.sightingFeed.waiting === 0)) return;
    const version = this.#db.pragma("data_version", { simple: true }) as number;
    if (version === this.#dataVersion) return;
    this.#dataVersion = version;
    this.changeFeed.notify();
    this.sightingFeed.notify();
  }

  async openAuditLog(options: AuditBufferOptions = {}): Promise<SqliteAuditLog> {
    if (this.#audit || this.#relay) throw new Error("the store's audit log is already chosen");
    this.#audit = SqliteAuditLog.open(this.#db, options);
    return this.#audit;
  }

  async relayAuditTo(log: AuditLog): Promise<void> {
    if (this.#audit || this.#relay) throw new Error("the store's audit log is already chosen");
    const rows = (this.#db.prepare("SELECT id, entry FROM audit_outbox ORDER BY id").all() as Array<{ id: number; entry: string }>).map((r) => ({ id: r.id, entry: outboxEntry(r.entry) }));
    const remove = this.#db.prepare("DELETE FROM audit_outbox WHERE id = ?");
    await relayOutbox(rows, log, async (id) => void writing(() => remove.run(id)));
    this.#relay = log;
  }

  #insertOutbox: Database.Statement | undefined;

  /**
   * Writes a change's audit entry inside its (open) transaction: into the
   * chain when the audit log lives here, else into the outbox (`relayed`
   * collects it for `#relay`).
   */
  #audited<T>(outcome: T, audit: ChangeAudit<T> | undefined, relayed: OutboxRow[]): T {
    if (!audit) return outcome;
    if (this.#audit) this.#audit.appendWithin([audit(outcome)]);
    else if (this.#relay) {
      const entry = audit(outcome);
      const insert = (this.#insertOutbox ??= this.#db.prepare("INSERT INTO audit_outbox (entry) VALUES (?)"));
      relayed.push({ id: Number(insert.run(outboxText(entry)).lastInsertRowid), entry });
    }
    return outcome;
  }

  /** After the change's commit: appends its outbox entries to the other audit log, durably, then takes them out of the outbox. */
  async #relayCommitted(relayed: readonly OutboxRow[]): Promise<void> {
    for (const { id, entry } of relayed) {
      await this.#relay!.appendDurably(entry);
      try {
        writing(() => this.#db.prepare("DELETE FROM audit_outbox WHERE id = ?").run(id));
      } catch {
        // An import holds the file: the row stays, and the next start finds its entry in the log and drops it.
      }
    }
  }

  async report(input: ReportInput, audit?: ChangeAudit<ReportOutcome[]>): Promise<ReportOutcome[]> {
    const relayed: OutboxRow[] = [];
    const outcomes = writing(() =>
      this.#db.transaction(() => this.#audited(this.#st.writeReport(input, this.#st.nextSeq.get() as number).outcomes, audit, relayed)).immediate(),
    );
    if (outcomes.some((o) => o.created)) this.changeFeed.notify();
    await this.#relayCommitted(relayed);
    return outcomes;
  }

  async clear(input: ClearInput, audit?: ChangeAudit<ClearOutcome>): Promise<ClearOutcome> {
    const relayed: OutboxRow[] = [];
    const outcome = writing(() => this.#db.transaction(() => this.#audited(this.#clearWithin(input), audit, relayed)).immediate());
    if (outcome.wrote) this.changeFeed.notify();
    await this.#relayCommitted(relayed);
    return { cleared: outcome.cleared, status: outcome.status, sequence: outcome.sequence };
  }

  /** The clearing itself, inside the caller's transaction. */
  #clearWithin(input: ClearInput): ClearOutcome & { wrote: boolean } {
    const st = this.#st;
    const all = (st.forKey.all(input.deviceKey) as RecordRow[]).map(recordFromRow);
    const selection = selectClearable(all, input);
    if (selection.kind === "replay") return replayedClearing(all, selection.records);
    const at = input.clearedAt ?? Date.now();
    let seq = st.nextSeq.get() as number;
    const stillOpen = new Map(all.filter((r) => r.cleared === undefined).map((r) => [r.id, r]));
    const cleared: StoredRecord[] = [];
    for (const record of selection.records) {
      st.clearRecord.run(at, input.requester, input.reason, input.note, seq, record.id);
      stillOpen.delete(record.id);
      const holding = holdingRecord(stillOpen.values());
      st.insertChange.run(seq, ChangeKind.CLEARED, input.deviceKey, record.id, holding?.status ?? DeviceStatus.PERMITTED, holding?.id ?? null, at);
      cleared.push({ ...record, cleared: { at, by: input.requester, reason: input.reason, note: input.note, seq } });
      seq++;
    }
    return { cleared, status: holdingRecord(stillOpen.values())?.status ?? DeviceStatus.PERMITTED, sequence: seq - 1, wrote: true };
  }

  #openForKeysStatement: Database.Statement | undefined;

  async openRecords(keys: readonly DeviceKey[]): Promise<Map<DeviceKey, StoredRecord[]>> {
    // One prepared statement for any batch size: the keys travel as one JSON array, and each
    // is looked up in the device index in turn (CROSS JOIN keeps json_each the outer loop). This
    // is cheaper than `device_key IN (SELECT value FROM json_each(?))`, which first builds a
    // temporary index of the keys; but a key asked twice yields its rows twice, so rows are
    // taken once by id.
    const statement = (this.#openForKeysStatement ??= this.#db.prepare(
      `SELECT ${RECORD_COLUMNS_OF_R} FROM json_each(?) AS asked CROSS JOIN records AS r ON r.device_key = asked.value WHERE r.cleared_at IS NULL`,
    ));
    const found = new Map<DeviceKey, StoredRecord[]>();
    if (keys.length === 0) return found;
    // One key (a lookup's question): a plain indexed equality, without building and parsing JSON.
    const rows = (keys.length === 1 ? this.#openForKeyStatement().all(keys[0]) : statement.all(JSON.stringify(keys))) as RecordRow[];
    const seen = rows.length > 1 ? new Set<RecordRow["id"]>() : undefined;
    for (const row of rows) {
      if (seen) {
        if (seen.has(row.id)) continue;
        seen.add(row.id);
      }
      const record = recordFromRow(row);
      const list = found.get(record.deviceKey);
      if (list) list.push(record);
      else found.set(record.deviceKey, [record]);
    }
    return found;
  }

  #openForKey: Database.Statement | undefined;
  #openForKeyStatement(): Database.Statement {
    return (this.#openForKey ??= this.#db.prepare(`SELECT ${RECORD_COLUMNS_OF_R} FROM records AS r WHERE r.device_key = ? AND r.cleared_at IS NULL`));
  }

  #changesStatement: Database.Statement | undefined;
  #recordsByIdStatement: Database.Statement | undefined;

  async changesAfter(seq: number, limit: number): Promise<StoredChange[]> {
    this.#changesStatement ??= this.#db.prepare(
      "SELECT seq, kind, device_key, record_id, status, holding_record_id, changed_at, attestation FROM changes WHERE seq > ? ORDER BY seq LIMIT ?",
    );
    this.#recordsByIdStatement ??= this.#db.prepare(`SELECT ${RECORD_COLUMNS} FROM records WHERE id IN (SELECT value FROM json_each(?))`);
    const rows = this.#changesStatement.all(seq, limit) as ChangeRow[];
    if (rows.length === 0) return [];
    const ids = new Set<number | string>();
    for (const row of rows) {
      ids.add(row.record_id);
      if (row.holding_record_id !== null) ids.add(row.holding_record_id);
    }
    const records = new Map<string, StoredRecord>();
    for (const row of this.#recordsByIdStatement.all(JSON.stringify([...ids])) as RecordRow[]) {
      const record = recordFromRow(row);
      records.set(record.id, record);
    }
    return rows.map((row) => changeFromRow(row, records));
  }

  async lastSequence(): Promise<number> {
    return (this.#st.nextSeq.get() as number) - 1;
  }

  #saveAttestation: Database.Statement | undefined;

  async saveChangeAttestations(signed: ReadonlyArray<{ seq: number; attestation: string }>): Promise<void> {
    if (signed.length === 0) return;
    const statement = (this.#saveAttestation ??= this.#db.prepare("UPDATE changes SET attestation = ? WHERE seq = ? AND attestation IS NULL"));
    try {
      this.#db.transaction(() => {
        for (const { seq, attestation } of signed) statement.run(attestation, seq);
      })();
    } catch (error) {
      // Keeping signatures is an optimisation: if an import holds the file, they are signed again next time.
      const mapped = asStoreUnavailable(error);
      if (!(mapped instanceof ImeifedError && mapped.reason === "STORE_BUSY")) throw error;
    }
  }

  #insertSighting: Database.Statement | undefined;

  async recordSightings(inputs: readonly SightingInput[], audit?: ChangeAudit<SightingOutcome[]>): Promise<SightingOutcome[]> {
    if (inputs.length === 0) return [];
    const insert = (this.#insertSighting ??= this.#db.prepare(
      `INSERT INTO sightings (seq, record_id, agency, device_key, kind, seen_in_country, partner_kind, partner_id, seen_at, purpose,
         found_location, found_holding_agency, found_contact, found_note)
       VALUES ((SELECT coalesce(max(seq), 0) + 1 FROM sightings), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ));
    const relayed: OutboxRow[] = [];
    const outcomes = writing(() => this.#db.transaction((): SightingOutcome[] =>
      this.#audited(inputs.map((input) => {
        const open = (this.#st.openForKey.all(input.deviceKey) as RecordRow[]).map(recordFromRow);
        let sequence = 0;
        for (const record of open) {
          const { lastInsertRowid } = insert.run(
            record.id,
            record.agency,
            input.deviceKey,
            input.kind,
            input.seenInCountry,
            input.partnerKind,
            input.partnerId,
            input.seenAt,
            input.purpose,
            input.found?.location ?? null,
            input.found?.holdingAgency ?? null,
            input.found?.contact ?? null,
            input.found?.note ?? null,
          );
          sequence = Number(lastInsertRowid);
        }
        return { recorded: open.length > 0, sequence };
      }), audit, relayed),
    ).immediate());
    if (outcomes.some((o) => o.recorded)) this.sightingFeed.notify();
    await this.#relayCommitted(relayed);
    return outcomes;
  }

  #sightingsStatement: Database.Statement | undefined;

  async sightingsAfter(agency: string, seq: number, limit: number): Promise<StoredSighting[]> {
    const statement = (this.#sightingsStatement ??= this.#db.prepare(
      `SELECT s.*, r.case_reference FROM sightings s JOIN records r ON r.id = s.record_id
       WHERE s.agency = ? AND s.seq > ? ORDER BY s.seq LIMIT ?`,
    ));
    return (statement.all(agency, seq, limit) as SightingRow[]).map(sightingFromRow);
  }

  async importReports(rows: AsyncIterable<ImportRow>): Promise<ImportSummary> {
    // Its own connection, so reads on the server's connection never see the
    // import's uncommitted rows while the import awaits the next chunk of its file.
    const db = connect(this.#path);
    // A large page cache keeps the growing indexes in memory for the whole transaction.
    db.pragma("cache_size = -131072");
    const st = new Statements(db);
    let count = 0;
    let created = 0;
    let replays = 0;
    let lastSequence = 0;
    try {
      db.exec("BEGIN IMMEDIATE");
      let seq = st.nextSeq.get() as number;
      for await (const row of rows) {
        count++;
        const written = st.writeReport(row.report, seq, row.line);
        seq = written.nextSeq;
        for (const outcome of written.outcomes) {
          if (outcome.created) {
            created++;
            lastSequence = outcome.sequence;
          } else replays++;
        }
      }
      db.exec("COMMIT");
    } catch (error) {
      if (db.inTransaction) db.exec("ROLLBACK");
      throw error;
    } finally {
      db.close();
    }
    if (created > 0) this.changeFeed.notify();
    return { rows: count, created, replays, lastSequence: lastSequence || (await this.lastSequence()) };
  }

  async meta(key: string): Promise<string | undefined> {
    return this.#db.prepare("SELECT value FROM registry_meta WHERE key = ?").pluck().get(key) as string | undefined;
  }

  async metaSetIfAbsent(key: string, value: string): Promise<string> {
    writing(() => this.#db.prepare("INSERT INTO registry_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING").run(key, value));
    return (await this.meta(key))!;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#poll);
    // Its queued entries are written before the connection they share closes.
    await this.#audit?.close();
    // Wake every watcher so open streams notice the store is going away.
    this.changeFeed.notify();
    this.sightingFeed.notify();
    this.#db.close();
  }
}

