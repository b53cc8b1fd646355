/**
 * The registry's signed statements: one over each finding it shows, and one
 * over each change in its change log.
 *
 * Change attestations are signed lazily, the first time a change is streamed,
 * and kept in the store, so each change is signed once per registry (by
 * whichever process streams it first) and never on the write path: a
 * million-row import must not wait for a million signatures. Their `iat` is
 * the time of the change, so a lazily signed attestation states exactly what
 * an eager one would have.
 *
 * Finding attestations state "listed at `iat`" and are kept in memory for a
 * while (REUSE_MS) so a hot device is not re-signed on every check.
 */
import { LRUCache } from "lru-cache";
import type { JSONWebKeySet } from "jose";
import { ChangeKind } from "../../gen/imeifed/v1/registry_pb.js";
import { attestationStatementOf, type AttestationSigner } from "../../trust/attestation.js";
import { fullFinding } from "./finding-of.js";
import type { RegistryStore, StoredChange, StoredRecord } from "./store/registry-store.js";

/** How long a finding attestation is reused: fresh enough for evidence, rare enough to keep signing off the hot path. */
const REUSE_MS = 10 * 60_000;
/** Finding attestations kept in memory. */
const MAX_CACHED = 50_000;

export class RegistryAttestations {
  readonly #findings: LRUCache<string, Promise<string>>;

  constructor(
    private readonly signer: AttestationSigner,
    private readonly country: string,
    private readonly store: RegistryStore,
  ) {
    this.#findings = new LRUCache({ max: MAX_CACHED, ttl: REUSE_MS });
  }

  /** The keys that verify this registry's attestations (GetKeys). */
  publicJwks(): JSONWebKeySet {
    return this.signer.publicJwks();
  }

  /** The attestation of the finding a record makes (concurrent asks share one signature). */
  forRecord(record: StoredRecord): Promise<string> {
    const cached = this.#findings.get(record.id);
    if (cached) return cached;
    const signing = this.signer.sign(attestationStatementOf(fullFinding(record, this.country, "", ""), { recordId: record.id }));
    this.#findings.set(record.id, signing);
    signing.catch(() => this.#findings.delete(record.id));
    return signing;
  }

  /** The attestation of each change, in order; signs and keeps those nobody has signed yet. */
  async forChanges(changes: readonly StoredChange[]): Promise<string[]> {
    const missing = changes.filter((c) => c.attestation === undefined);
    const signed = await Promise.all(
      missing.map(async (change) => ({
        seq: change.seq,
        attestation: await this.signer.sign({
          ...attestationStatementOf(fullFinding(change.record, this.country, "", ""), {
            change: change.kind === ChangeKind.CLEARED ? "CLEARED" : "REPORTED",
            recordId: change.record.id,
            seq: change.seq,
            status: change.status,
          }),
          iat: Math.floor(change.changedAt / 1000),
        }),
      })),
    );
    if (signed.length > 0) await this.store.saveChangeAttestations(signed);
    const bySeq = new Map(signed.map((s) => [s.seq, s.attestation]));
    return changes.map((c) => c.attestation ?? bySeq.get(c.seq)!);
  }
}
