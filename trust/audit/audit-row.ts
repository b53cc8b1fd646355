/**
 * The mapping between an `audit_log` row and an AuditRecord, shared by the
 * SQLite and PostgreSQL logs (they differ only in how a driver returns `seq`
 * and `at`).
 */
import type { AuditRecord } from "./audit-entry.js";

/** An `audit_log` row as either driver returns it: PostgreSQL gives int8 as a string and timestamptz as a Date. */
export interface AuditRow {
  seq: number | string;
  at: Date | string;
  server: string;
  principal: string;
  actor: string | null;
  purpose: string;
  method: string;
  device_key: string | null;
  batch_digest: string | null;
  batch_size: number | null;
  countries: string;
  verdict: string;
  status_code: number;
  prev_hash: string;
  hash: string;
}

export function auditRecordOf(row: AuditRow): AuditRecord {
  return {
    seq: Number(row.seq),
    at: row.at instanceof Date ? row.at : new Date(row.at),
    server: row.server,
    principal: row.principal,
    actor: row.actor,
    purpose: row.purpose,
    method: row.method,
    deviceKey: row.device_key,
    batchDigest: row.batch_digest,
    batchSize: row.batch_size,
    countries: row.countries === "" ? [] : row.countries.split(","),
    verdict: row.verdict,
    statusCode: row.status_code,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}
