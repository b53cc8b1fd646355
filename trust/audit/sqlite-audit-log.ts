/**
 * The audit log in SQLite (better-sqlite3): in the registry's own database
 * file or a separate one. Each batch is one IMMEDIATE transaction that reads
 * the chain's head and appends after it, so the chain stays correct even when
 * two processes share the file. Triggers refuse UPDATE and DELETE, so the
 * application cannot rewrite history by mistake; someone with the file can
 * drop them, and the chain shows what they did.
 */
import Database from "better-sqlite3";
import { Code, ImeifedError } from "../../errors/index.js";
import { GENESIS_HASH, chainEntry, normalizeEntry, type AuditEntry, type AuditRecord } from "./audit-entry.js";
import { AuditBuffer, type AuditBufferOptions } from "./audit-buffer.js";
import type { AuditLog, AuditQuery } from "./audit-log.js";
import { auditRecordOf, type AuditRow } from "./audit-row.js";

type Db = Database.Database;

const MIGRATION = `
CREATE TABLE IF NOT EXISTS audit_log (
  seq          INTEGER PRIMARY KEY,
  at           TEXT NOT NULL,
  server       TEXT NOT NULL,
  principal    TEXT NOT NULL,
  actor        TEXT,
  purpose      TEXT NOT NULL,
  method       TEXT NOT NULL,
  device_key   TEXT,
  batch_digest TEXT,
  batch_size   INTEGER,
  countries    TEXT NOT NULL,
  verdict      TEXT NOT NULL,
  status_code  INTEGER NOT NULL,
  prev_hash    TEXT NOT NULL,
  hash         TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log(at);
CREATE INDEX IF NOT EXISTS audit_log_device_key ON audit_log(device_key);
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
  BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
  BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
`;

const AUDIT_COLUMNS = "seq, at, server, principal, actor, purpose, method, device_key, batch_digest, batch_size, countries, verdict, status_code, prev_hash, hash";

/** Where the SQLite audit log lives and how it buffers. */
export interface SqliteAuditLogOptions extends AuditBufferOptions {
  /** Open for verification and queries only: no table is created and `append` throws. */
  readonly readOnly?: boolean;
}

/** The SQLite AuditLog. */
export class SqliteAuditLog implements AuditLog {
  readonly #db: Db;
  readonly #ownsDb: boolean;
  readonly #buffer: AuditBuffer;
  readonly #readOnly: boolean;
  readonly #appendBatch: (entries: readonly AuditEntry[], durable: boolean) => void;
  readonly #appendWithin: (entries: readonly AuditEntry[]) => void;

  private constructor(db: Db, ownsDb: boolean, options: SqliteAuditLogOptions) {
    this.#db = db;
    this.#ownsDb = ownsDb;
    this.#readOnly = options.readOnly ?? false;
    this.#buffer = new AuditBuffer(async (entries, { durable }) => this.#appendBatch(entries, durable), options);
    if (this.#readOnly) {
      this.#appendWithin = this.#appendBatch = () => {
        throw new Error("the audit log was opened read-only");
      };
      return;
    }
    const head = db.prepare<[], { seq: number; hash: string }>("SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1");
    const insert = db.prepare(
      `INSERT INTO audit_log (seq, at, server, principal, actor, purpose, method, device_key, batch_digest, batch_size, countries, verdict, status_code, prev_hash, hash)
       VALUES (@seq, @at, @server, @principal, @actor, @purpose, @method, @deviceKey, @batchDigest, @batchSize, @countries, @verdict, @statusCode, @prevHash, @hash)`,
    );
    const insertRecord = (record: AuditRecord) => insert.run({ ...record, at: record.at.toISOString(), countries: record.countries.join(",") });
    // Reads the head and appends after it: correct only while the caller holds the write lock.
    this.#appendWithin = (entries) => {
      if (!db.inTransaction) throw new Error("appendWithin runs inside a write transaction of the audit log's own connection");
      const last = head.get();
      let seq = last?.seq ?? 0;
      let prevHash = last?.hash ?? GENESIS_HASH;
      for (const entry of entries) {
        seq += 1;
        const record = chainEntry(normalizeEntry(entry), seq, prevHash);
        insertRecord(record);
        prevHash = record.hash;
      }
    };
    const tx = db.transaction((entries: readonly AuditEntry[]) => this.#appendWithin(entries));
    // IMMEDIATE takes the write lock before reading the head: no other writer can slip in between.
    this.#appendBatch = (entries, durable) => {
      if (durable) return tx.immediate(entries);
      // Questions only: committed without the fsync (WAL, NORMAL), which survives a crashed process and
      // costs the event loop no disk flush; the connection's own setting (FULL) comes back at once, for
      // the changes and durable entries that share it. A later FULL commit syncs these frames too.
      const setting = db.pragma("synchronous", { simple: true }) as number;
      db.pragma("synchronous = NORMAL");
      try {
        tx.immediate(entries);
      } finally {
        db.pragma(`synchronous = ${setting}`);
      }
    };
  }

  /**
   * Opens the log in a database file (created if missing, WAL mode) or in an
   * already open better-sqlite3 Database (e.g. the registry's store), which it
   * then does not close.
   */
  static open(target: string | Db, options: SqliteAuditLogOptions = {}): SqliteAuditLog {
    const owns = typeof target === "string";
    let db: Db;
    if (typeof target === "string") {
      try {
        db = options.readOnly ? new Database(target, { readonly: true, fileMustExist: true }) : new Database(target);
      } catch (error) {
        throw new ImeifedError(Code.FAILED_PRECONDITION, "AUDIT_STORE_UNAVAILABLE", `cannot open audit database ${target}: ${(error as Error).message}`, { cause: error });
      }
      if (!options.readOnly) {
        db.pragma("journal_mode = WAL");
        // FULL: a durable entry (a change's) must survive a power cut as its change does; batches of
        // questions alone commit at NORMAL (see #appendBatch), as they always did.
        db.pragma("synchronous = FULL");
      }
      db.pragma("busy_timeout = 5000");
    } else {
      db = target;
    }
    if (options.readOnly) {
      const table = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'audit_log'").get();
      if (!table) {
        if (owns) db.close();
        throw new ImeifedError(Code.FAILED_PRECONDITION, "AUDIT_STORE_UNAVAILABLE", `${typeof target === "string" ? target : "the database"} has no audit_log table`);
      }
    } else {
      db.exec(MIGRATION);
    }
    return new SqliteAuditLog(db, owns, options);
  }

  append(entry: AuditEntry): void {
    if (this.#readOnly) throw new Error("the audit log was opened read-only");
    this.#buffer.add(entry);
  }

  appendDurably(entry: AuditEntry): Promise<void> {
    if (this.#readOnly) return Promise.reject(new Error("the audit log was opened read-only"));
    return this.#buffer.addDurably(entry);
  }

  /**
   * Appends entries inside the caller's open write transaction on this log's
   * own connection (a store's, see `open(db)`), so they commit or roll back
   * with the caller's change. The write lock the caller holds orders them
   * with every buffered batch: the chain stays one line.
   */
  appendWithin(entries: readonly AuditEntry[]): void {
    this.#appendWithin(entries);
  }

  /**
   * Moves the chain kept in another SQLite file (`from`) into this log. When
   * this log is empty, every row is copied exactly as stored (seq, hashes:
   * earlier anchors still hold) in one transaction, and the count copied is
   * returned. When this log already holds that chain's head (a move
   * interrupted before the old file was put aside), nothing is copied. Two
   * different chains are refused: they cannot become one.
   */
  adoptChainFrom(from: string): number {
    if (this.#readOnly) throw new Error("the audit log was opened read-only");
    // Fold the old file's WAL into it first, so that what is read (and later renamed) is whole.
    const old = new Database(from, { fileMustExist: true });
    try {
      old.pragma("wal_checkpoint(TRUNCATE)");
    } finally {
      old.close();
    }
    const db = this.#db;
    db.prepare("ATTACH DATABASE ? AS adopted_audit").run(from);
    try {
      const headOf = (schema: string) => db.prepare<[], { seq: number; hash: string }>(`SELECT seq, hash FROM ${schema}.audit_log ORDER BY seq DESC LIMIT 1`).get();
      return db.transaction((): number => {
        const theirs = headOf("adopted_audit");
        if (theirs === undefined) return 0;
        const ours = headOf("main");
        if (ours === undefined) {
          return db.prepare(`INSERT INTO main.audit_log (${AUDIT_COLUMNS}) SELECT ${AUDIT_COLUMNS} FROM adopted_audit.audit_log ORDER BY seq`).run().changes;
        }
        const same = db.prepare<[number], { hash: string }>("SELECT hash FROM main.audit_log WHERE seq = ?").get(theirs.seq);
        if (same?.hash === theirs.hash) return 0;
        throw new ImeifedError(
          Code.FAILED_PRECONDITION,
          "AUDIT_CHAINS_DIFFER",
          `${from} holds an audit chain (head ${theirs.seq}:${theirs.hash}) that is not the one this database already holds (head ${ours.seq}:${ours.hash}); verify both with imeifed audit verify and move one aside`,
        );
      }).immediate();
    } finally {
      db.exec("DETACH DATABASE adopted_audit");
    }
  }

  flush(): Promise<void> {
    return this.#buffer.flush();
  }

  /** Entries waiting to be written. */
  get pending(): number {
    return this.#buffer.pending;
  }

  async rowsAfter(afterSeq: number, limit: number): Promise<AuditRecord[]> {
    return this.#db.prepare<[number, number], AuditRow>("SELECT * FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?").all(afterSeq, limit).map(auditRecordOf);
  }

  async withHash(hash: string): Promise<AuditRecord[]> {
    return this.#db.prepare<[string], AuditRow>("SELECT * FROM audit_log WHERE hash = ? ORDER BY seq").all(hash).map(auditRecordOf);
  }

  async linkingTo(prevHash: string, afterSeq: number): Promise<AuditRecord | undefined> {
    const row = this.#db.prepare<[string, number], AuditRow>("SELECT * FROM audit_log WHERE prev_hash = ? AND seq > ? ORDER BY seq LIMIT 1").get(prevHash, afterSeq);
    return row ? auditRecordOf(row) : undefined;
  }

  async query(filter: AuditQuery = {}): Promise<AuditRecord[]> {
    if (!this.#readOnly) await this.flush();
    const where: string[] = [];
    const params: Record<string, unknown> = {};
    if (filter.since) (where.push("at >= @since"), (params.since = filter.since.toISOString()));
    if (filter.until) (where.push("at < @until"), (params.until = filter.until.toISOString()));
    if (filter.requester) (where.push("COALESCE(actor, principal) = @requester"), (params.requester = filter.requester));
    if (filter.principal) (where.push("principal = @principal"), (params.principal = filter.principal));
    if (filter.deviceKey) (where.push("device_key = @deviceKey"), (params.deviceKey = filter.deviceKey));
    if (filter.method) (where.push("method = @method"), (params.method = filter.method));
    if (filter.afterSeq !== undefined) (where.push("seq > @afterSeq"), (params.afterSeq = filter.afterSeq));
    params.limit = filter.limit ?? 1000;
    const sql = `SELECT * FROM audit_log ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY seq LIMIT @limit`;
    return this.#db.prepare<Record<string, unknown>, AuditRow>(sql).all(params).map(auditRecordOf);
  }

  async close(): Promise<void> {
    try {
      await this.#buffer.close();
    } finally {
      if (this.#ownsDb && this.#db.open) this.#db.close();
    }
  }
}
