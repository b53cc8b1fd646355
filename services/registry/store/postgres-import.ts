/**
 * The PostgreSQL side of a bulk import, run inside the store's writing
 * transaction (which holds the change-log lock): the same rules as `report`,
 * batched. Rows are read and checked in batches; for each batch it reads
 * every record of the batch's device keys at once (replays, refusals and the
 * records already holding each device), takes a block of record ids from the
 * id sequence (safe: every writer holds the change-log lock), works out each
 * new record's change in memory, and streams records and changes into their
 * tables with `COPY ... FROM STDIN`. One batch is written while the next is
 * read and checked, so PostgreSQL and the parsing overlap; memory holds two
 * batches, whatever the size of the file.
 *
 * No staging table: the rows are planned under the change-log lock, so none
 * of them can conflict with another writer and COPY can write them where
 * they belong, once.
 */
import type pg from "pg";
import { ChangeKind } from "../../../gen/imeifed/v1/registry_pb.js";
import type { DeviceKey } from "../../../device/index.js";
import { caseClearedError } from "./case-cleared.js";
import { holdingRecord } from "./holding-record.js";
import { copyFrom, copyText } from "./postgres-copy.js";
import { RECORDS_FOR_KEYS } from "./postgres-lookups.js";
import { recordFromRow, type RecordRow } from "./record-row.js";
import type { ImportRow, ImportSummary, StoredRecord } from "./registry-store.js";

/** Rows per batch: large enough to amortise the per-batch statements, small enough to keep memory flat. */
export const IMPORT_BATCH = 2_000;

const COPY_RECORDS = `COPY records (id, device_key, agency, case_reference, status, reason, source_reason_code, occurred_at, reported_at,
  make, model, crime_reference, owner_name, owner_phone, owner_email, reported_seq) FROM STDIN`;
const COPY_CHANGES = "COPY changes (seq, kind, device_key, record_id, status, holding_record_id, changed_at) FROM STDIN";

/** Imports `rows` on `client`, whose transaction holds the change-log lock; a bad row throws and the caller rolls back. */
export async function importRows(client: pg.PoolClient, rows: AsyncIterable<ImportRow>): Promise<ImportSummary> {
  const nextSeq = Number((await client.query<{ seq: string }>("SELECT coalesce(max(seq), 0) + 1 AS seq FROM changes")).rows[0]!.seq);
  const importer = new BatchImporter(client, nextSeq);
  let batch: ImportRow[] = [];
  let count = 0;
  let writing: Promise<void> = Promise.resolve();
  let failed = false;
  const settle = (p: Promise<void>) => {
    p.catch(() => (failed = true));
    return p;
  };
  try {
    for await (const row of rows) {
      count++;
      batch.push(row);
      if (batch.length >= IMPORT_BATCH) {
        await writing;
        writing = settle(importer.write(batch));
        batch = [];
      }
      if (failed) break;
    }
    await writing;
    await importer.write(batch);
  } finally {
    // Never leave a write running on the connection that is about to roll back.
    await writing.catch(() => {});
  }
  return { rows: count, created: importer.created, replays: importer.replays, lastSequence: importer.nextSeq - 1 };
}

interface Planned {
  readonly record: StoredRecord;
  readonly owner: ImportRow["report"]["owner"];
}

class BatchImporter {
  created = 0;
  replays = 0;

  constructor(
    private readonly client: pg.PoolClient,
    public nextSeq: number,
  ) {}

  async write(batch: readonly ImportRow[]): Promise<void> {
    if (batch.length === 0) return;
    const now = Date.now();
    const keys = [...new Set(batch.flatMap((row) => row.report.deviceKeys))];
    const known = (await this.client.query<RecordRow>({ ...RECORDS_FOR_KEYS, values: [keys] })).rows.map(recordFromRow);
    const byCase = new Map<string, StoredRecord>();
    const openByKey = new Map<DeviceKey, StoredRecord[]>();
    for (const record of known) {
      byCase.set(caseKey(record.deviceKey, record.agency, record.caseReference), record);
      if (record.cleared === undefined) openByKey.set(record.deviceKey, [...(openByKey.get(record.deviceKey) ?? []), record]);
    }
    const planned: Planned[] = [];
    for (const row of batch) {
      const { report } = row;
      for (const key of report.deviceKeys) {
        const id = caseKey(key, report.agency, report.caseReference);
        const existing = byCase.get(id);
        if (existing) {
          if (existing.cleared) throw caseClearedError(existing, row.line);
          this.replays++;
          continue;
        }
        const record: StoredRecord = {
          id: "",
          deviceKey: key,
          agency: report.agency,
          caseReference: report.caseReference,
          status: report.status,
          reason: report.reason,
          sourceReasonCode: report.sourceReasonCode,
          occurredAt: report.occurredAt,
          reportedAt: report.reportedAt ?? now,
          make: report.make,
          model: report.model,
          crimeReference: report.crimeReference,
          reportedSeq: this.nextSeq++,
          cleared: undefined,
        };
        byCase.set(id, record);
        planned.push({ record, owner: report.owner });
      }
    }
    if (planned.length === 0) return;
    const last = Number(
      (await this.client.query<{ last: string }>("SELECT setval('records_id_seq', nextval('records_id_seq') + $1 - 1) AS last", [planned.length])).rows[0]!.last,
    );
    const first = last - planned.length + 1;
    const records: string[] = new Array(planned.length);
    const changes: string[] = new Array(planned.length);
    planned.forEach((p, i) => {
      const r = Object.assign(p.record, { id: String(first + i) });
      // Most devices have no other open record: the new one holds it.
      const others = openByKey.get(r.deviceKey);
      let holding: StoredRecord = r;
      if (others) {
        others.push(r);
        holding = holdingRecord(others)!;
      } else {
        openByKey.set(r.deviceKey, [r]);
      }
      records[i] =
        `${first + i}\t${copyText(r.deviceKey)}\t${copyText(r.agency)}\t${copyText(r.caseReference)}\t${r.status}\t${r.reason}\t${copyText(r.sourceReasonCode)}\t` +
        `${copyText(r.occurredAt)}\t${r.reportedAt}\t${copyText(r.make)}\t${copyText(r.model)}\t${copyText(r.crimeReference)}\t` +
        `${copyText(p.owner?.name)}\t${copyText(p.owner?.phone)}\t${copyText(p.owner?.email)}\t${r.reportedSeq}\n`;
      changes[i] = `${r.reportedSeq}\t${ChangeKind.REPORTED}\t${copyText(r.deviceKey)}\t${first + i}\t${holding.status}\t${holding.id}\t${now}\n`;
    });
    await copyFrom(this.client, COPY_RECORDS, records);
    await copyFrom(this.client, COPY_CHANGES, changes);
    this.created += planned.length;
  }
}

function caseKey(key: string, agency: string, caseReference: string): string {
  return `${key}\u0000${agency}\u0000${caseReference}`;
}
