/**
 * Walks an audit chain from its first entry and names the first place where it
 * was tampered with: an entry changed, removed, inserted or moved.
 *
 * What a bare hash chain can and cannot show: anyone able to write the table
 * can also recompute every hash after the point they altered, and can drop
 * entries from the end. Both are caught only against a head recorded
 * elsewhere earlier (`anchor`: a seq and its hash, e.g. printed by
 * `imeifed audit verify` into an operator's log or a ticket).
 */
import { GENESIS_HASH, entryHash, type AuditRecord } from "./audit-entry.js";
import type { AuditChainSource } from "./audit-log.js";

/** The kinds of tampering the verifier names. */
export type AuditProblem = "changed" | "removed" | "inserted" | "reordered";

/** The outcome of `verifyAuditChain`. */
export type AuditChainReport =
  | { readonly ok: true; readonly entries: number; readonly head?: { readonly seq: number; readonly hash: string } }
  | {
      readonly ok: false;
      /** Entries verified before the first bad one. */
      readonly entries: number;
      readonly problem: AuditProblem;
      /** The seq of the first bad entry (for `removed`: the first missing seq). */
      readonly seq: number;
      readonly message: string;
    };

/** Options of `verifyAuditChain`. */
export interface VerifyAuditChainOptions {
  /** A head recorded earlier: the chain must still hold this entry with this hash. */
  readonly anchor?: { readonly seq: number; readonly hash: string };
  /** Rows read per query (default 2,000). */
  readonly pageSize?: number;
}

function broken(entries: number, problem: AuditProblem, seq: number, message: string): AuditChainReport {
  return { ok: false, entries, problem, seq, message: `${problem} at seq ${seq}: ${message}` };
}

/**
 * Checks every entry's hash, its link to the entry before it and the
 * numbering, in seq order, and classifies the first failure.
 */
export async function verifyAuditChain(source: AuditChainSource, options: VerifyAuditChainOptions = {}): Promise<AuditChainReport> {
  const pageSize = options.pageSize ?? 2_000;
  let prev: AuditRecord | undefined;
  let verified = 0;
  let anchorSeen = false;
  for (;;) {
    const page = await source.rowsAfter(prev?.seq ?? 0, pageSize);
    for (const row of page) {
      const expectedPrevHash = prev?.hash ?? GENESIS_HASH;
      const expectedSeq = (prev?.seq ?? 0) + 1;
      const selfOk = entryHash(row) === row.hash;
      const linkOk = row.prevHash === expectedPrevHash;
      const seqOk = row.seq === expectedSeq;
      if (!(selfOk && linkOk && seqOk)) return classify(source, row, prev, verified, { selfOk, linkOk, seqOk });
      if (options.anchor && row.seq === options.anchor.seq) {
        if (row.hash !== options.anchor.hash) {
          return broken(verified, "changed", row.seq, `its hash ${row.hash} is not the anchored ${options.anchor.hash}: the chain up to here was rewritten and its hashes recomputed`);
        }
        anchorSeen = true;
      }
      prev = row;
      verified += 1;
    }
    if (page.length < pageSize) break;
  }
  if (options.anchor && !anchorSeen) {
    const last = prev?.seq ?? 0;
    return broken(verified, "removed", last + 1, `the log ends at seq ${last} but seq ${options.anchor.seq} was anchored: entries ${last + 1}..${options.anchor.seq} were cut from the end`);
  }
  return prev ? { ok: true, entries: verified, head: { seq: prev.seq, hash: prev.hash } } : { ok: true, entries: 0 };
}

async function classify(
  source: AuditChainSource,
  row: AuditRecord,
  prev: AuditRecord | undefined,
  verified: number,
  checks: { selfOk: boolean; linkOk: boolean; seqOk: boolean },
): Promise<AuditChainReport> {
  const { selfOk, linkOk, seqOk } = checks;
  const expectedSeq = (prev?.seq ?? 0) + 1;
  const expectedPrevHash = prev?.hash ?? GENESIS_HASH;

  if (linkOk) {
    if (!selfOk) return broken(verified, "changed", row.seq, "its content no longer matches its hash");
    return broken(verified, "changed", row.seq, `its sequence number was altered (expected ${expectedSeq}) and its hash recomputed`);
  }

  // An exact copy of an entry already verified: someone duplicated it further down.
  const twins = (await source.withHash(row.hash)).filter((r) => r.seq < row.seq);
  if (twins.length > 0) return broken(verified, "inserted", row.seq, `it is a copy of the entry at seq ${twins[0]!.seq}`);

  // Which entry does this one say came before it?
  const predecessor = (await source.withHash(row.prevHash)).find((r) => r.seq !== row.seq);
  if (predecessor && predecessor.seq > row.seq) {
    return broken(verified, "reordered", row.seq, `it was written after the entry now at seq ${predecessor.seq}, which comes later`);
  }
  if (predecessor && prev && predecessor.seq < prev.seq) {
    // The entries between its real predecessor and it were slipped in.
    const intruder = (await source.rowsAfter(predecessor.seq, 1))[0];
    const first = intruder?.seq ?? predecessor.seq + 1;
    return broken(verified - (prev.seq - predecessor.seq), "inserted", first, `entries ${first}..${prev.seq} are not part of the chain (the entry now at seq ${row.seq} follows seq ${predecessor.seq})`);
  }

  // Nothing links to its prev_hash: either it is an intruder and the chain goes on later, or its predecessor is gone.
  const resumes = await source.linkingTo(expectedPrevHash, row.seq);
  if (resumes) {
    return broken(verified, "inserted", row.seq, `entries ${row.seq}..${resumes.seq - 1} are not part of the chain (seq ${resumes.seq} follows ${prev ? `seq ${prev.seq}` : "the start"})`);
  }
  if (!seqOk && row.seq > expectedSeq) {
    const last = row.seq - 1;
    return broken(verified, "removed", expectedSeq, last === expectedSeq ? `the entry at seq ${expectedSeq} is missing` : `entries ${expectedSeq}..${last} are missing`);
  }
  if (!selfOk) {
    return broken(verified, "removed", row.seq, `an entry before it was removed and the later ones renumbered (it no longer follows ${prev ? `seq ${prev.seq}` : "the start"})`);
  }
  if (prev) {
    return broken(verified - 1, "changed", prev.seq, `it was altered and its hash recomputed (seq ${row.seq} still links to its original hash)`);
  }
  return broken(verified, "changed", row.seq, "the first entry does not start the chain");
}
