/**
 * Checks each finding's attestation in the browser, with the project's own
 * verifier (trust/attestation.ts, on jose's WebCrypto build), against the
 * keys its registry published: the signature must verify with that country's
 * keys and the signed claims must say what the page shows.
 */
import type { JSONWebKeySet } from "jose";
import { verifyAttestation } from "../../trust/attestation.js";
import { DeviceStatus, type Finding } from "../../gen/imeifed/v1/device_pb.js";
import type { GetRegistryKeysResponse } from "../../gen/imeifed/v1/federation_pb.js";

export type AttestationCheck = { ok: true } | { ok: false; why: string };

/** Each country's published JWKS. */
export function keysByCountry(response: GetRegistryKeysResponse | undefined): Map<string, JSONWebKeySet> {
  const byCountry = new Map<string, JSONWebKeySet>();
  for (const r of response?.registries ?? []) {
    try {
      byCountry.set(r.country, JSON.parse(r.jwksJson) as JSONWebKeySet);
    } catch {
      // A registry whose keys do not parse verifies nothing: its findings show as not verified.
    }
  }
  return byCountry;
}

export async function checkAttestation(finding: Finding, keys: Map<string, JSONWebKeySet>): Promise<AttestationCheck> {
  const jwks = keys.get(finding.country);
  if (!jwks) return { ok: false, why: `no published keys for ${finding.country}` };
  if (!finding.attestation) return { ok: false, why: "no attestation" };
  try {
    const claims = await verifyAttestation(finding.attestation, jwks);
    const mismatches: string[] = [];
    if (claims.device_key !== finding.deviceKey) mismatches.push("device");
    if (claims.registry !== finding.country) mismatches.push("country");
    if (claims.status !== DeviceStatus[finding.status]) mismatches.push("status");
    if (claims.verified !== finding.verified) mismatches.push("verified");
    return mismatches.length === 0 ? { ok: true } : { ok: false, why: `the signed claims differ from what was shown: ${mismatches.join(", ")}` };
  } catch (error) {
    return { ok: false, why: (error as Error).message };
  }
}
