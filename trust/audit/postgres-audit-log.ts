/**
 * The audit log in PostgreSQL (pg Pool). Several processes (registry or
 * gateway replicas) may append to one database: each batch runs in a
 * transaction that first takes a transaction-scoped advisory lock for this
 * schema's log, then reads the head and appends after it, so the chain is one
 * line whatever the number of writers. Triggers refuse UPDATE, DELETE and
 * TRUNCATE from the application.
 */
import pg from "pg";
import { Code, ImeifedError } from "../../errors/index.js";
import { GENESIS_HASH, chainEntry, normalizeEntry, type AuditEntry, type AuditRecord } from "./audit-entry.js";
import { AuditBuffer, type AuditBufferOptions } from "./audit-buffer.js";
import type { AuditLog, AuditQuery } from "./audit-log.js";
import { auditRecordOf, type AuditRow } from "./audit-row.js";

/** First key of the advisory lock (the "class"): imeifed's audit log; the second is the schema. */
const LOCK_CLASS = 0x1a0d17;
const COLUMNS = ["seq", "at", "server", "principal", "actor", "purpose", "method", "device_key", "batch_digest", "batch_size", "countries", "verdict", "status_code", "prev_hash", "hash"] as const;

function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

function migration(schema: string): string {
  const s = quoteIdent(schema);
  return `
CREATE SCHEMA IF NOT EXISTS ${s};
CREATE TABLE IF NOT EXISTS ${s}.audit_log (
  seq          bigint PRIMARY KEY,
  at           timestamptz NOT NULL,
  server       text NOT NULL,
  principal    text NOT NULL,
  actor        text,
  purpose      text NOT NULL,
  method       text NOT NULL,
  device_key   text,
  batch_digest text,
  batch_size   integer,
  countries    text NOT NULL,
  verdict      text NOT NULL,
  status_code  integer NOT NULL,
  prev_hash    text NOT NULL,
  hash         text NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_log_at ON ${s}.audit_log (at);
CREATE INDEX IF NOT EXISTS audit_log_device_key ON ${s}.audit_log (device_key);
CREATE OR REPLACE FUNCTION ${s}.audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
  BEGIN RAISE EXCEPTION 'audit_log is append-only'; END $$;
CREATE OR REPLACE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON ${s}.audit_log
  FOR EACH ROW EXECUTE FUNCTION ${s}.audit_log_append_only();
CREATE OR REPLACE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON ${s}.audit_log
  FOR EACH STATEMENT EXECUTE FUNCTION ${s}.audit_log_append_only();
`;
}

/** Where the PostgreSQL audit log lives and how it buffers. */
export interface PostgresAuditLogOptions extends AuditBufferOptions {
  /** The schema holding `audit_log` (default `public`). */
  readonly schema?: string;
  /** Open for verification and queries only: nothing is created and `append` throws. */
  readonly readOnly?: boolean;
}

/** The PostgreSQL AuditLog. */
export class PostgresAuditLog implements AuditLog {
  readonly #pool: pg.Pool;
  readonly #ownsPool: boolean;
  readonly #schema: string;
  readonly #table: string;
  readonly #buffer: AuditBuffer;
  readonly #readOnly: boolean;

  private constructor(pool: pg.Pool, ownsPool: boolean, options: PostgresAuditLogOptions) {
    this.#pool = pool;
    this.#ownsPool = ownsPool;
    this.#schema = options.schema ?? "public";
    this.#table = `${quoteIdent(this.#schema)}.audit_log`;
    this.#readOnly = options.readOnly ?? false;
    this.#buffer = new AuditBuffer((entries) => this.#appendBatch(entries), options);
  }

  /**
   * Opens the log on a pool (which it then does not end) or a connection URL
   * (it makes and ends its own small pool), creating the schema, table and
   * triggers unless read-only.
   */
  static async open(target: pg.Pool | string, options: PostgresAuditLogOptions = {}): Promise<PostgresAuditLog> {
    const owns = typeof target === "string";
    const pool = typeof target === "string" ? new pg.Pool({ connectionString: target, max: 2 }) : target;
    const log = new PostgresAuditLog(pool, owns, options);
    try {
      if (options.readOnly) await log.#checkTable();
      else await log.#migrate();
    } catch (error) {
      if (owns) await pool.end().catch(() => undefined);
      if (error instanceof ImeifedError) throw error;
      throw new ImeifedError(Code.FAILED_PRECONDITION, "AUDIT_STORE_UNAVAILABLE", `cannot open the PostgreSQL audit log (schema ${log.#schema}): ${(error as Error).message}`, { cause: error });
    }
    return log;
  }

  async #migrate(): Promise<void> {
    const client = await this.#pool.connect();
    try {
      await client.query("BEGIN");
      // Two processes starting together must not race on CREATE ... IF NOT EXISTS.
      await client.query("SELECT pg_advisory_xact_lock($1, hashtext($2))", [LOCK_CLASS, this.#schema]);
      await client.query(migration(this.#schema));
      await client.query("COMMIT");
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  async #checkTable(): Promise<void> {
    const { rows } = await this.#pool.query("SELECT to_regclass($1) AS t", [`${quoteIdent(this.#schema)}.audit_log`]);
    if (!rows[0]?.t) throw new ImeifedError(Code.FAILED_PRECONDITION, "AUDIT_STORE_UNAVAILABLE", `schema ${this.#schema} has no audit_log table`);
  }

  async #appendBatch(entries: readonly AuditEntry[]): Promise<void> {
    const client = await this.#pool.connect();
    try {
      await client.query("BEGIN");
      await this.appendWithin(client, entries);
      await client.query("COMMIT");
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }

  /**
   * Appends entries inside the caller's open transaction on `client` (a
   * connection to this log's database, e.g. a registry store's), so they
   * commit or roll back with the caller's change. It takes the log's advisory
   * lock, held to that transaction's end, then reads the head: every writer,
   * buffered or not, in any process, appends after the last committed entry.
   * Call it last in the transaction, to hold the lock briefly.
   */
  async appendWithin(client: pg.ClientBase, entries: readonly AuditEntry[]): Promise<void> {
    if (this.#readOnly) throw new Error("the audit log was opened read-only");
    if (entries.length === 0) return;
    await client.query("SELECT pg_advisory_xact_lock($1, hashtext($2))", [LOCK_CLASS, this.#schema]);
    const head = await client.query<{ seq: string; hash: string }>(`SELECT seq, hash FROM ${this.#table} ORDER BY seq DESC LIMIT 1`);
    let seq = head.rows[0] ? Number(head.rows[0].seq) : 0;
    let prevHash = head.rows[0]?.hash ?? GENESIS_HASH;
    const values: unknown[] = [];
    const tuples: string[] = [];
    for (const entry of entries) {
      seq += 1;
      const r = chainEntry(normalizeEntry(entry), seq, prevHash);
      prevHash = r.hash;
      const base = values.length;
      values.push(r.seq, r.at, r.server, r.principal, r.actor, r.purpose, r.method, r.deviceKey, r.batchDigest, r.batchSize, r.countries.join(","), r.verdict, r.statusCode, r.prevHash, r.hash);
      tuples.push(`(${COLUMNS.map((_, i) => `$${base + i + 1}`).join(", ")})`);
    }
    await client.query(`INSERT INTO ${this.#table} (${COLUMNS.join(", ")}) VALUES ${tuples.join(", ")}`, values);
  }

  append(entry: AuditEntry): void {
    if (this.#readOnly) throw new Error("the audit log was opened read-only");
    this.#buffer.add(entry);
  }

  appendDurably(entry: AuditEntry): Promise<void> {
    if (this.#readOnly) return Promise.reject(new Error("the audit log was opened read-only"));
    return this.#buffer.addDurably(entry);
  }

  flush(): Promise<void> {
    return this.#buffer.flush();
  }

  /** Entries waiting to be written. */
  get pending(): number {
    return this.#buffer.pending;
  }

  async rowsAfter(afterSeq: number, limit: number): Promise<AuditRecord[]> {
    const { rows } = await this.#pool.query<AuditRow>(`SELECT * FROM ${this.#table} WHERE seq > $1 ORDER BY seq LIMIT $2`, [afterSeq, limit]);
    return rows.map(auditRecordOf);
  }

  async withHash(hash: string): Promise<AuditRecord[]> {
    const { rows } = await this.#pool.query<AuditRow>(`SELECT * FROM ${this.#table} WHERE hash = $1 ORDER BY seq`, [hash]);
    return rows.map(auditRecordOf);
  }

  async linkingTo(prevHash: string, afterSeq: number): Promise<AuditRecord | undefined> {
    const { rows } = await this.#pool.query<AuditRow>(`SELECT * FROM ${this.#table} WHERE prev_hash = $1 AND seq > $2 ORDER BY seq LIMIT 1`, [prevHash, afterSeq]);
    return rows[0] ? auditRecordOf(rows[0]) : undefined;
  }

  async query(filter: AuditQuery = {}): Promise<AuditRecord[]> {
    if (!this.#readOnly) await this.flush();
    const where: string[] = [];
    const values: unknown[] = [];
    const add = (sql: string, value: unknown) => {
      values.push(value);
      where.push(sql.replace("?", `$${values.length}`));
    };
    if (filter.since) add("at >= ?", filter.since);
    if (filter.until) add("at < ?", filter.until);
    if (filter.requester) add("COALESCE(actor, principal) = ?", filter.requester);
    if (filter.principal) add("principal = ?", filter.principal);
    if (filter.deviceKey) add("device_key = ?", filter.deviceKey);
    if (filter.method) add("method = ?", filter.method);
    if (filter.afterSeq !== undefined) add("seq > ?", filter.afterSeq);
    values.push(filter.limit ?? 1000);
    const sql = `SELECT * FROM ${this.#table} ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY seq LIMIT $${values.length}`;
    const { rows } = await this.#pool.query<AuditRow>(sql, values);
    return rows.map(auditRecordOf);
  }

  async close(): Promise<void> {
    try {
      await this.#buffer.close();
    } finally {
      if (this.#ownsPool) await this.#pool.end();
    }
  }
}
