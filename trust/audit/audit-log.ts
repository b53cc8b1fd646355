/**
 * The contract every audit store fulfils: append without slowing the call that
 * is being recorded, never lose an entry on a clean shutdown, and let the
 * owner read back and verify what was recorded.
 */
import type { AuditEntry, AuditRecord } from "./audit-entry.js";

/** Filters of `queryAudit`; all optional, combined with AND. */
export interface AuditQuery {
  /** Entries at or after this time. */
  readonly since?: Date;
  /** Entries before this time. */
  readonly until?: Date;
  /** Entries whose real requester is this principal: the actor of a delegated call, otherwise the caller. */
  readonly requester?: string;
  /** Entries whose token was signed by this principal (e.g. `gateway`). */
  readonly principal?: string;
  readonly deviceKey?: string;
  readonly method?: string;
  /** At most this many entries, oldest first (default 1000). */
  readonly limit?: number;
  /** Only entries after this seq (for paging). */
  readonly afterSeq?: number;
}

/** Reads a stored chain in order, for `verifyAuditChain`. */
export interface AuditChainSource {
  /** Up to `limit` entries with seq > `afterSeq`, in seq order. */
  rowsAfter(afterSeq: number, limit: number): Promise<AuditRecord[]>;
  /** Every entry whose stored hash is `hash` (normally one or none). */
  withHash(hash: string): Promise<AuditRecord[]>;
  /** The first entry after `afterSeq` whose prev_hash is `prevHash`. */
  linkingTo(prevHash: string, afterSeq: number): Promise<AuditRecord | undefined>;
}

/** An append-only, hash-chained audit log (SQLite or PostgreSQL). */
export interface AuditLog extends AuditChainSource {
  /**
   * Queues one entry; it is written within `flushIntervalMs` in a small
   * transaction, off the call path. Throws UNAVAILABLE when the store has been
   * failing long enough for the backlog to fill, so no question goes unrecorded.
   */
  append(entry: AuditEntry): void | Promise<void>;
  /**
   * Writes one entry now (with whatever else is queued) and resolves once it
   * is committed: for a call that must not be answered before its entry is on
   * disk. Rejects with UNAVAILABLE when the write fails (the entry stays
   * queued and is retried).
   */
  appendDurably(entry: AuditEntry): Promise<void>;
  /** Writes everything queued so far. */
  flush(): Promise<void>;
  /** Reads entries back (after flushing what is queued). */
  query(filter?: AuditQuery): Promise<AuditRecord[]>;
  /** Flushes every queued entry, then releases what the log opened itself. */
  close(): Promise<void>;
}

/**
 * Builds a state-changing call's entry from what its transaction did, so that
 * a store keeping the audit log in its own database writes the entry in the
 * same transaction as the change: both commit, or neither.
 */
export type ChangeAudit<T> = (outcome: T) => AuditEntry;

/**
 * Lists the recorded questions matching `filter`: a registry uses it to see
 * which foreign partners asked about its records, and when.
 */
export function queryAudit(log: Pick<AuditLog, "query">, filter: AuditQuery = {}): Promise<AuditRecord[]> {
  return log.query(filter);
}
