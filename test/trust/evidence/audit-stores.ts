/**
 * The two audit stores under test, each with a back door for tampering: a
 * second connection that drops or disables the append-only triggers, as
 * someone with access to the file or the database could.
 */
import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import pg from "pg";
import { PostgresAuditLog, SqliteAuditLog, type AuditEntry, type AuditLog, type AuditRecord } from "../../../trust/audit/index.js";
import type { AuditBufferOptions } from "../../../trust/audit/audit-buffer.js";

export const PG_URL = "postgres://postgres@127.0.0.1:5432/test";

/** Raw access to a store's `audit_log`, around its triggers. */
export interface Tamper {
  /** Runs statements with the append-only triggers out of the way. */
  exec(sql: string): Promise<void>;
  row(seq: number): Promise<AuditRecord>;
  /** Writes a whole row (insert) as the stores do. */
  insert(record: AuditRecord): Promise<void>;
  count(): Promise<number>;
}

/** One store kind: how to open a log on a fresh database and tamper with it. */
export interface AuditStoreKind {
  readonly name: "sqlite" | "postgres";
  /** A fresh, empty place for a log. */
  create(): Promise<AuditStorePlace>;
}

export interface AuditStorePlace {
  open(options?: AuditBufferOptions & { readOnly?: boolean }): Promise<AuditLog>;
  readonly tamper: Tamper;
  /** The SQLite file, or the PostgreSQL schema. */
  readonly location: string;
  destroy(): Promise<void>;
}

function rowValues(r: AuditRecord, at: string | Date): unknown[] {
  return [r.seq, at, r.server, r.principal, r.actor, r.purpose, r.method, r.deviceKey, r.batchDigest, r.batchSize, r.countries.join(","), r.verdict, r.statusCode, r.prevHash, r.hash];
}
const COLUMNS = "seq, at, server, principal, actor, purpose, method, device_key, batch_digest, batch_size, countries, verdict, status_code, prev_hash, hash";

const sqlite: AuditStoreKind = {
  name: "sqlite",
  async create() {
    const dir = await mkdtemp(join(tmpdir(), "imeifed-audit-"));
    const file = join(dir, "audit.sqlite");
    const raw = () => {
      const db = new Database(file);
      db.exec("DROP TRIGGER IF EXISTS audit_log_no_update; DROP TRIGGER IF EXISTS audit_log_no_delete;");
      return db;
    };
    const read = (seq: number) => {
      const db = new Database(file, { readonly: true });
      try {
        return db.prepare("SELECT * FROM audit_log WHERE seq = ?").get(seq) as Record<string, unknown> | undefined;
      } finally {
        db.close();
      }
    };
    return {
      location: file,
      open: async (options) => SqliteAuditLog.open(file, options),
      tamper: {
        async exec(sql) {
          const db = raw();
          try {
            db.exec(sql);
          } finally {
            db.close();
          }
        },
        async row(seq) {
          const r = read(seq);
          if (!r) throw new Error(`no row ${seq}`);
          return {
            seq: r.seq as number,
            at: new Date(r.at as string),
            server: r.server as string,
            principal: r.principal as string,
            actor: r.actor as string | null,
            purpose: r.purpose as string,
            method: r.method as string,
            deviceKey: r.device_key as string | null,
            batchDigest: r.batch_digest as string | null,
            batchSize: r.batch_size as number | null,
            countries: r.countries === "" ? [] : (r.countries as string).split(","),
            verdict: r.verdict as string,
            statusCode: r.status_code as number,
            prevHash: r.prev_hash as string,
            hash: r.hash as string,
          };
        },
        async insert(record) {
          const db = raw();
          try {
            db.prepare(`INSERT INTO audit_log (${COLUMNS}) VALUES (${Array(15).fill("?").join(", ")})`).run(...rowValues(record, record.at.toISOString()));
          } finally {
            db.close();
          }
        },
        async count() {
          const db = new Database(file, { readonly: true });
          try {
            return (db.prepare("SELECT count(*) AS n FROM audit_log").get() as { n: number }).n;
          } finally {
            db.close();
          }
        },
      },
      destroy: () => rm(dir, { recursive: true, force: true }),
    };
  },
};

const postgres: AuditStoreKind = {
  name: "postgres",
  async create() {
    const schema = `audit_test_${randomBytes(6).toString("hex")}`;
    const admin = new pg.Pool({ connectionString: PG_URL, max: 2 });
    const table = `"${schema}".audit_log`;
    const withTriggersOff = async (sql: string) => {
      const client = await admin.connect();
      try {
        await client.query(`ALTER TABLE ${table} DISABLE TRIGGER USER`);
        await client.query(sql);
      } finally {
        await client.query(`ALTER TABLE ${table} ENABLE TRIGGER USER`).catch(() => undefined);
        client.release();
      }
    };
    return {
      location: schema,
      open: async (options) => PostgresAuditLog.open(PG_URL, { ...options, schema }),
      tamper: {
        exec: (sql) => withTriggersOff(sql.replaceAll("audit_log", table)),
        async row(seq) {
          const log = await PostgresAuditLog.open(admin, { schema, readOnly: true });
          const [r] = await log.rowsAfter(seq - 1, 1);
          await log.close();
          if (!r || r.seq !== seq) throw new Error(`no row ${seq}`);
          return r;
        },
        async insert(record) {
          await admin.query(`INSERT INTO ${table} (${COLUMNS}) VALUES (${Array.from({ length: 15 }, (_, i) => `$${i + 1}`).join(", ")})`, rowValues(record, record.at));
        },
        async count() {
          return Number((await admin.query(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);
        },
      },
      async destroy() {
        await admin.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
        await admin.end();
      },
    };
  },
};

export const AUDIT_STORES: readonly AuditStoreKind[] = [sqlite, postgres];

/** A plausible entry, numbered so tests can tell entries apart. */
export function sampleEntry(i: number, overrides: Partial<AuditEntry> = {}): AuditEntry {
  return {
    at: new Date(Date.UTC(2025, 2, 1, 10, 0, i)),
    server: "registry-gb",
    principal: i % 2 === 0 ? "gateway" : "police-es",
    actor: i % 2 === 0 ? (i % 4 === 0 ? "customs-gb" : "police-jp") : undefined,
    purpose: `case-${i}`,
    method: "CheckDevice",
    deviceKey: `3569380312${String(i).padStart(4, "0")}`,
    countries: ["GB"],
    verdict: i % 3 === 0 ? "PROHIBITED" : "PERMITTED",
    statusCode: 0,
    ...overrides,
  };
}
