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

/** What decides which open record holds a device (see holding-record.ts). */
type Ranked = Pick<StoredRecord, "id" | "status" | "reportedAt">;

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
    // The batch's keys, and those it names more than once (their new records may hold each other).
    const keys = new Set<DeviceKey>();
    const repeated = new Set<DeviceKey>();
    for (const row of batch) {
      for (const key of row.report.deviceKeys) {
        if (keys.has(key)) repeated.add(key);
        else keys.add(key);
      }
    }
    const known = (await this.client.query<RecordRow>({ ...RECORDS_FOR_KEYS, values: [[...keys]] })).rows.map(recordFromRow);
    // Every (device, agency, case) recorded: a known record, or null for one this import creates.
    const byCase = new Map<string, StoredRecord | null>();
    const openByKey = new Map<DeviceKey, Ranked[]>();
    for (const record of known) {
      byCase.set(caseKey(record.deviceKey, record.agency, record.caseReference), record);
      if (record.cleared === undefined) openByKey.set(record.deviceKey, [...(openByKey.get(record.deviceKey) ?? []), record]);
    }
    // The new records, as the row and the key of each, in file order.
    const rows: ImportRow[] = [];
    const rowKeys: DeviceKey[] = [];
    for (const row of batch) {
      const { report } = row;
      for (const key of report.deviceKeys) {
        const id = caseKey(key, report.agency, report.caseReference);
        const existing = byCase.get(id);
        if (existing !== undefined) {
          if (existing?.cleared) throw caseClearedError(existing, row.line);
          this.replays++;
          continue;
        }
        byCase.set(id, null);
        rows.push(row);
        rowKeys.push(key);
      }
    }
    const count = rows.length;
    if (count === 0) return;
    const last = Number((await this.client.query<{ last: string }>("SELECT setval('records_id_seq', nextval('records_id_seq') + $1 - 1) AS last", [count])).rows[0]!.last);
    const first = last - count + 1;
    const records: string[] = new Array(count);
    const changes: string[] = new Array(count);
    for (let i = 0; i < count; i++) {
      const { report } = rows[i]!;
      const key = rowKeys[i]!;
      const id = first + i;
      const seq = this.nextSeq++;
      const reportedAt = report.reportedAt ?? now;
      // Most devices have no other open record: the new one holds it.
      let holdingId = id;
      let holdingStatus: number = report.status;
      const others = openByKey.get(key);
      if (others !== undefined || repeated.has(key)) {
        const open = others ?? [];
        open.push({ id: String(id), status: report.status, reportedAt });
        openByKey.set(key, open);
        const holding = holdingRecord(open)!;
        holdingId = Number(holding.id);
        holdingStatus = holding.status;
      }
      const owner = report.owner;
      records[i] =
        `${id}\t${key}\t${copyText(report.agency)}\t${copyText(report.caseReference)}\t${report.status}\t${report.reason}\t${copyText(report.sourceReasonCode)}\t` +
        `${copyText(report.occurredAt)}\t${reportedAt}\t${copyText(report.make)}\t${copyText(report.model)}\t${copyText(report.crimeReference)}\t` +
        `${copyText(owner?.name)}\t${copyText(owner?.phone)}\t${copyText(owner?.email)}\t${seq}\n`;
      changes[i] = `${seq}\t${ChangeKind.REPORTED}\t${key}\t${id}\t${holdingStatus}\t${holdingId}\t${now}\n`;
    }
    await copyFrom(this.client, COPY_RECORDS, records);
    await copyFrom(this.client, COPY_CHANGES, changes);
    this.created += count;
  }
}

function caseKey(key: string, agency: string, caseReference: string): string {
  return `${key}\u0000${agency}\u0000${caseReference}`;
}
