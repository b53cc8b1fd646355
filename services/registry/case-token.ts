/**
 * Case tokens: a case reference is the reporting agency's own business. It
 * sees its references verbatim; anyone else sees an opaque keyed hash that
 * the registry (which holds the key) can map back to the case when a partner
 * calls about it, but that no partner can reverse or forge.
 */
import { createHmac } from "node:crypto";
import type { StoredRecord } from "./store/registry-store.js";

/** HMAC-SHA256 over the agency and its case reference, base64url. */
export function opaqueCaseToken(secret: Buffer, agency: string, caseReference: string): string {
  return createHmac("sha256", secret).update(agency).update("\u0000").update(caseReference).digest("base64url");
}

/** The case token `requesterId` may see for a record: verbatim for its reporting agency, opaque for everyone else. */
export function caseTokenFor(record: Pick<StoredRecord, "agency" | "caseReference">, requesterId: string, secret: Buffer): string {
  return record.agency === requesterId ? record.caseReference : opaqueCaseToken(secret, record.agency, record.caseReference);
}
