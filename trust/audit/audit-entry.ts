/**
 * One line of the record of every question: who asked (and on whose behalf),
 * what about, under which purpose, what the answer was. Each stored entry is
 * chained to the one before it: `hash = SHA-256(canonical(entry) + prev_hash)`,
 * so a changed, removed, inserted or reordered entry breaks the chain.
 */
import { createHash } from "node:crypto";

/** What a server appends: one call that touched a device (or a batch of devices). */
export interface AuditEntry {
  /** When the call started (the moment the question was asked). */
  readonly at: Date;
  /** The id of the server that answered (its principal id, e.g. `registry-gb`). */
  readonly server: string;
  /** The principal that signed the caller's token; empty when the call was not authenticated. */
  readonly principal: string;
  /** The real requester of a delegated call (the token's `act`), when there is one. */
  readonly actor?: string | undefined;
  /** The case or declaration reference the caller acts under. */
  readonly purpose?: string | undefined;
  /** The proto method name, e.g. `CheckDevice`. */
  readonly method: string;
  /** The 14-digit device key for a one-device call. */
  readonly deviceKey?: string | undefined;
  /** `batchDigest(keys)` for a batch call. */
  readonly batchDigest?: string | undefined;
  readonly batchSize?: number | undefined;
  /** The countries asked (gateway) or answering (registry). */
  readonly countries?: readonly string[] | undefined;
  /** The answer in one word (`PROHIBITED`, `CLEAN`, ...) or a short summary for batches. */
  readonly verdict?: string | undefined;
  /** The gRPC status code the call ended with. */
  readonly statusCode: number;
}

/** A stored entry, as read back: every field present, plus its place in the chain. */
export interface AuditRecord {
  readonly seq: number;
  readonly at: Date;
  readonly server: string;
  readonly principal: string;
  readonly actor: string | null;
  readonly purpose: string;
  readonly method: string;
  readonly deviceKey: string | null;
  readonly batchDigest: string | null;
  readonly batchSize: number | null;
  readonly countries: readonly string[];
  readonly verdict: string;
  readonly statusCode: number;
  readonly prevHash: string;
  readonly hash: string;
}

/** The `prev_hash` of the first entry. */
export const GENESIS_HASH = "0".repeat(64);

/** Version tag inside every canonical encoding, so a later format can coexist. */
const ENCODING = "imeifed-audit-v1";

/** Caps on free-text fields: a caller must not be able to bloat the log with a 4 MB purpose. */
const MAX_TEXT = 512;
const MAX_VERDICT = 128;

function cap(text: string | undefined, max: number): string {
  const value = text ?? "";
  return value.length <= max ? value : `${value.slice(0, max - 1)}…`;
}

/** The entry as it will be stored (without seq and hashes): capped, normalised, nulls for absent values. */
export function normalizeEntry(entry: AuditEntry): Omit<AuditRecord, "seq" | "prevHash" | "hash"> {
  return {
    at: new Date(Math.trunc(entry.at.getTime())),
    server: cap(entry.server, MAX_TEXT),
    principal: cap(entry.principal, MAX_TEXT),
    actor: entry.actor ? cap(entry.actor, MAX_TEXT) : null,
    purpose: cap(entry.purpose, MAX_TEXT),
    method: cap(entry.method, MAX_TEXT),
    deviceKey: entry.deviceKey ? cap(entry.deviceKey, 64) : null,
    batchDigest: entry.batchDigest ? cap(entry.batchDigest, 128) : null,
    batchSize: entry.batchSize === undefined ? null : Math.max(0, Math.trunc(entry.batchSize)),
    // Commas separate countries in storage; a country code never holds one.
    countries: (entry.countries ?? []).map((c) => cap(c.replaceAll(",", "").trim().toUpperCase(), 8)).filter((c) => c !== ""),
    verdict: cap(entry.verdict, MAX_VERDICT),
    statusCode: Math.trunc(entry.statusCode),
  };
}

/**
 * The hash of a stored entry: SHA-256 (hex) over a JSON array of every column
 * in a fixed order, `seq` and `prev_hash` included, so that renumbering or
 * relinking an entry changes its hash too.
 */
export function entryHash(record: Omit<AuditRecord, "hash">): string {
  const canonical = JSON.stringify([
    ENCODING,
    record.seq,
    record.at.toISOString(),
    record.server,
    record.principal,
    record.actor,
    record.purpose,
    record.method,
    record.deviceKey,
    record.batchDigest,
    record.batchSize,
    record.countries.join(","),
    record.verdict,
    record.statusCode,
    record.prevHash,
  ]);
  return createHash("sha256").update(canonical).digest("hex");
}

/** Seals a normalised entry into the chain after the entry whose hash is `prevHash`. */
export function chainEntry(fields: Omit<AuditRecord, "seq" | "prevHash" | "hash">, seq: number, prevHash: string): AuditRecord {
  const unsealed = { ...fields, seq, prevHash };
  return { ...unsealed, hash: entryHash(unsealed) };
}
