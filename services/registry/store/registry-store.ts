/**
 * The RegistryStore: the one interface the registry's handlers and its CSV
 * import talk to, with a SQLite and a PostgreSQL implementation that pass one
 * shared test suite (test/registry/store/).
 *
 * Times are epoch milliseconds; sequences are plain numbers (safe up to 2^53,
 * far beyond any registry's volume). Owner contact goes in and never comes out:
 * no read method returns it.
 */
import type { ClearReason, DeviceStatus, Reason } from "../../../gen/imeifed/v1/device_pb.js";
import type { ChangeKind, SightingKind } from "../../../gen/imeifed/v1/registry_pb.js";
import type { DeviceKey } from "../../../device/index.js";
import type { AuditBufferOptions } from "../../../trust/audit/audit-buffer.js";
import type { AuditLog, ChangeAudit } from "../../../trust/audit/audit-log.js";
import type { ChangeFeed } from "../change-feed.js";

/** The statuses a record can hold while open. */
export type ListedStatus = DeviceStatus.PROHIBITED | DeviceStatus.TRACKED;

/** One report of one device key by one agency under one case: the registry's unit of history. */
export interface StoredRecord {
  /** Decimal id, unique within the registry's database. */
  readonly id: string;
  readonly deviceKey: DeviceKey;
  /** The principal id of the reporting agency. */
  readonly agency: string;
  readonly caseReference: string;
  readonly status: ListedStatus;
  readonly reason: Reason;
  readonly sourceReasonCode: string;
  readonly occurredAt: number | undefined;
  readonly reportedAt: number;
  readonly make: string;
  readonly model: string;
  /** Empty when law enforcement has not verified the report. */
  readonly crimeReference: string;
  /** The sequence of the change that listed it. */
  readonly reportedSeq: number;
  readonly cleared: RecordClearing | undefined;
}

/** Who cleared a record, when and why (kept forever: history is never deleted). */
export interface RecordClearing {
  readonly at: number;
  readonly by: string;
  readonly reason: ClearReason;
  readonly note: string;
  readonly seq: number;
}

/** Never returned by any read: kept so the registry can call the owner. */
export interface OwnerContactInput {
  readonly name: string;
  readonly phone: string;
  readonly email: string;
}

/** A validated report: one agency, one case, one or more device keys (dual SIM). */
export interface ReportInput {
  readonly agency: string;
  readonly caseReference: string;
  readonly deviceKeys: readonly DeviceKey[];
  readonly status: ListedStatus;
  readonly reason: Reason;
  readonly sourceReasonCode: string;
  readonly occurredAt: number | undefined;
  readonly make: string;
  readonly model: string;
  readonly crimeReference: string;
  readonly owner: OwnerContactInput | undefined;
  /** Defaults to now; an import may carry the source registry's own date. */
  readonly reportedAt?: number;
}

/** What a report did for one of its device keys. */
export interface ReportOutcome {
  readonly record: StoredRecord;
  /** False when (agency, case, device) was already recorded: a replay wrote nothing. */
  readonly created: boolean;
  /** The sequence of the change that listed this record. */
  readonly sequence: number;
}

/** A validated clearing request. The store decides which records it may clear. */
export interface ClearInput {
  readonly deviceKey: DeviceKey;
  /** The principal id of the party clearing (the real requester). */
  readonly requester: string;
  /** True for this registry's administrator: may clear any agency's record. */
  readonly isAdmin: boolean;
  /** Empty clears every open record the requester may clear. */
  readonly caseReference: string;
  readonly reason: ClearReason;
  readonly note: string;
  readonly clearedAt?: number;
}

/** What a clearing did. */
export interface ClearOutcome {
  /** The records this call cleared, or on a replay the ones an earlier identical call cleared. */
  readonly cleared: readonly StoredRecord[];
  /** The device's status afterwards: another agency's record may still hold it. */
  readonly status: DeviceStatus;
  /** The sequence of the last change written (or, on a replay, of the earlier clearing). */
  readonly sequence: number;
}

/** One entry of the change log, with the records needed to describe it. */
export interface StoredChange {
  readonly seq: number;
  readonly kind: ChangeKind;
  readonly deviceKey: DeviceKey;
  /** The device's status after the change. */
  readonly status: DeviceStatus;
  readonly changedAt: number;
  /** The record that was reported or cleared. */
  readonly record: StoredRecord;
  /** The record that holds the device after the change; absent when PERMITTED. */
  readonly holding: StoredRecord | undefined;
  /** The signed attestation, once someone has signed it (signing is lazy, see change-attestation.ts). */
  readonly attestation: string | undefined;
}

/** Where and by whom a listed device surfaced. */
export interface SightingInput {
  readonly deviceKey: DeviceKey;
  readonly kind: SightingKind;
  readonly seenInCountry: string;
  readonly partnerKind: string;
  readonly partnerId: string;
  readonly seenAt: number;
  readonly purpose: string;
  readonly found: FoundInput | undefined;
}

export interface FoundInput {
  readonly location: string;
  readonly holdingAgency: string;
  readonly contact: string;
  readonly note: string;
}

/** A sighting as stored: one per open record of the device, so each owning agency sees its own. */
export interface StoredSighting extends SightingInput {
  readonly seq: number;
  readonly recordId: string;
  /** The reporting agency of the record; only it may watch this sighting. */
  readonly agency: string;
  readonly caseReference: string;
}

export interface SightingOutcome {
  /** False when the registry holds no open record for the device. */
  readonly recorded: boolean;
  readonly sequence: number;
}

/** One report of a CSV import, with the line it came from for error messages. */
export interface ImportRow {
  readonly line: number;
  readonly report: ReportInput;
}

export interface ImportSummary {
  /** Rows read. */
  readonly rows: number;
  /** Records created (a dual-SIM row creates two). */
  readonly created: number;
  /** Rows' device keys that were already recorded under the same agency and case. */
  readonly replays: number;
  readonly lastSequence: number;
}

/** The registry's storage; see the module comment. */
export interface RegistryStore {
  readonly kind: "sqlite" | "postgres";
  /** A random id made at the first migration: a new epoch means sequences restarted. */
  readonly epoch: string;
  /** The key of the opaque case tokens foreign callers see (made at the first migration unless configured). */
  readonly caseTokenSecret: Buffer;
  /** Wakes change watchers after any commit, in this process or (PostgreSQL) any other. */
  readonly changeFeed: ChangeFeed;
  /** Wakes sighting watchers likewise. */
  readonly sightingFeed: ChangeFeed;

  /**
   * Opens the audit log kept in this store's own database (created if
   * absent; closed by its own `close()`, before the store's). From then on an
   * `audit` handed to `report`, `clear` or `recordSightings` is written in the
   * change's own transaction: the change and its entry commit together or not
   * at all. Without this log, `audit` is ignored.
   */
  openAuditLog(options?: AuditBufferOptions): Promise<AuditLog>;
  /**
   * Sends the entries of later changes to an audit log kept in another
   * database, through this store's outbox (trust/audit/audit-outbox.ts): an
   * `audit` handed to `report`, `clear` or `recordSightings` is written to
   * the outbox in the change's transaction and appended durably to `log`
   * before the method returns. First relays what a crash left in the outbox.
   */
  relayAuditTo(log: AuditLog): Promise<void>;
  /** Lists the device keys of one report in one transaction; idempotent per (agency, case, key). */
  report(input: ReportInput, audit?: ChangeAudit<ReportOutcome[]>): Promise<ReportOutcome[]>;
  /** Clears the records the requester may clear; PERMISSION_DENIED without revealing others' cases. */
  clear(input: ClearInput, audit?: ChangeAudit<ClearOutcome>): Promise<ClearOutcome>;
  /** The open records of each requested key (keys without any are absent), with one query. */
  openRecords(keys: readonly DeviceKey[]): Promise<Map<DeviceKey, StoredRecord[]>>;
  /** Changes after `seq`, in order, at most `limit`. */
  changesAfter(seq: number, limit: number): Promise<StoredChange[]>;
  /** The last change sequence (0 when none). */
  lastSequence(): Promise<number>;
  /** Keeps signed change attestations so they are signed once per registry (first writer wins). */
  saveChangeAttestations(signed: ReadonlyArray<{ seq: number; attestation: string }>): Promise<void>;
  /**
   * Stores each sighting against every open record of its device, all in one
   * transaction (one durable commit however many), and answers each in order.
   */
  recordSightings(inputs: readonly SightingInput[], audit?: ChangeAudit<SightingOutcome[]>): Promise<SightingOutcome[]>;
  /** Sightings of `agency`'s own records after `seq`, in order. */
  sightingsAfter(agency: string, seq: number, limit: number): Promise<StoredSighting[]>;
  /** Imports reports in one transaction: a bad row (thrown by `rows` or found here) keeps nothing. */
  importReports(rows: AsyncIterable<ImportRow>): Promise<ImportSummary>;
  /** A value kept in the registry's meta table (for example a generated attestation key). */
  meta(key: string): Promise<string | undefined>;
  /** Sets a meta value unless one exists; returns the value that is stored afterwards. */
  metaSetIfAbsent(key: string, value: string): Promise<string>;
  close(): Promise<void>;
}
