/**
 * The mapping between a `records` row and a StoredRecord, shared by both
 * stores. The column list deliberately leaves out the owner's contact: no read
 * path can return what it never selects.
 */
import type { ClearReason, Reason } from "../../../gen/imeifed/v1/device_pb.js";
import type { DeviceKey } from "../../../device/index.js";
import type { ListedStatus, ReportInput, StoredRecord } from "./registry-store.js";

/** The columns every record read selects (never owner_*). */
export const RECORD_COLUMNS =
  "id, device_key, agency, case_reference, status, reason, source_reason_code, occurred_at, reported_at, make, model, crime_reference, reported_seq, cleared_at, cleared_by, clear_reason, clear_note, cleared_seq";

/** A records row as either driver returns it (PostgreSQL returns int8 as strings). */
export interface RecordRow {
  id: number | string | bigint;
  device_key: string;
  agency: string;
  case_reference: string;
  status: number;
  reason: number;
  source_reason_code: string;
  occurred_at: number | string | null;
  reported_at: number | string;
  make: string;
  model: string;
  crime_reference: string;
  reported_seq: number | string;
  cleared_at: number | string | null;
  cleared_by: string | null;
  clear_reason: number | null;
  clear_note: string | null;
  cleared_seq: number | string | null;
}

/** Turns a row into the record the rest of the registry sees. */
export function recordFromRow(row: RecordRow): StoredRecord {
  return {
    id: String(row.id),
    deviceKey: row.device_key as DeviceKey,
    agency: row.agency,
    caseReference: row.case_reference,
    status: row.status as ListedStatus,
    reason: row.reason as Reason,
    sourceReasonCode: row.source_reason_code,
    occurredAt: row.occurred_at === null ? undefined : Number(row.occurred_at),
    reportedAt: Number(row.reported_at),
    make: row.make,
    model: row.model,
    crimeReference: row.crime_reference,
    reportedSeq: Number(row.reported_seq),
    cleared:
      row.cleared_at === null
        ? undefined
        : {
            at: Number(row.cleared_at),
            by: row.cleared_by ?? "",
            reason: (row.clear_reason ?? 0) as ClearReason,
            note: row.clear_note ?? "",
            seq: Number(row.cleared_seq ?? 0),
          },
  };
}

/**
 * The values of one `records` insert, in the column order both stores' insert
 * statements use: (device_key, agency, case_reference, status, reason,
 * source_reason_code, occurred_at, reported_at, make, model, crime_reference,
 * owner_name, owner_phone, owner_email, reported_seq).
 */
export function recordInsertValues(key: DeviceKey, input: ReportInput, reportedAt: number, seq: number): Array<string | number | null> {
  return [
    key,
    input.agency,
    input.caseReference,
    input.status,
    input.reason,
    input.sourceReasonCode,
    input.occurredAt ?? null,
    reportedAt,
    input.make,
    input.model,
    input.crimeReference,
    input.owner?.name ?? null,
    input.owner?.phone ?? null,
    input.owner?.email ?? null,
    seq,
  ];
}
