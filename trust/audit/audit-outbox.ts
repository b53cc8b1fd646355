/**
 * The outbox of a store whose audit log lives in another database. A
 * state-changing call's entry is first written to the store's outbox in the
 * change's own transaction, then appended durably to the audit log before
 * the call answers, then taken out of the outbox. A crash between the
 * change's commit and the log's leaves the entry in the outbox, and the next
 * start appends it: no change ever loses its entry. A crash after the log's
 * commit but before the outbox row went leaves an entry the log already
 * holds; it is recognised (same call, same millisecond) and not appended
 * twice.
 */
import { normalizeEntry, type AuditEntry, type AuditRecord } from "./audit-entry.js";
import type { AuditLog } from "./audit-log.js";

/** One entry waiting in a store's outbox. */
export interface OutboxRow {
  readonly id: number;
  readonly entry: AuditEntry;
}

/** An entry as an outbox stores it (JSON; the time as ISO 8601). */
export function outboxText(entry: AuditEntry): string {
  return JSON.stringify(entry);
}

/** The entry an outbox row holds. */
export function outboxEntry(text: string): AuditEntry {
  const parsed = JSON.parse(text) as AuditEntry & { at: string };
  return { ...parsed, at: new Date(parsed.at) };
}

function sameCall(entry: ReturnType<typeof normalizeEntry>, record: AuditRecord): boolean {
  return (
    record.at.getTime() === entry.at.getTime() &&
    record.server === entry.server &&
    record.principal === entry.principal &&
    record.actor === entry.actor &&
    record.purpose === entry.purpose &&
    record.method === entry.method &&
    record.deviceKey === entry.deviceKey &&
    record.batchDigest === entry.batchDigest &&
    record.batchSize === entry.batchSize &&
    record.countries.join(",") === entry.countries.join(",") &&
    record.verdict === entry.verdict &&
    record.statusCode === entry.statusCode
  );
}

/**
 * Appends each row's entry the log does not hold yet, in order, durably, and
 * calls `remove` for each row once its entry is in the log. An entry the log
 * holds counts once: two identical rows need two identical entries.
 */
export async function relayOutbox(rows: readonly OutboxRow[], log: Pick<AuditLog, "query" | "appendDurably">, remove: (id: number) => Promise<void>): Promise<number> {
  const claimed = new Set<number>();
  let appended = 0;
  for (const row of rows) {
    const entry = normalizeEntry(row.entry);
    const candidates = await log.query({ method: entry.method, since: entry.at, until: new Date(entry.at.getTime() + 1), limit: 10_000 });
    const held = candidates.find((record) => !claimed.has(record.seq) && sameCall(entry, record));
    if (held) claimed.add(held.seq);
    else {
      await log.appendDurably(row.entry);
      appended += 1;
    }
    await remove(row.id);
  }
  return appended;
}
