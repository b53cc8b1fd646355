/**
 * The check a manufacturer runs before it acts on an event: the attestation
 * must be the owning registry's signature (offline, with the registries' public
 * keys), and what it states must be what the event asks for. The gateway only
 * relays events; it cannot make a registry say a phone is stolen, and a
 * manufacturer must not brick a phone on the gateway's word alone.
 */
import { StolenEventKind, type StolenEvent } from "../gen/imeifed/v1/federation_pb.js";
import { ImeifedError } from "../errors/index.js";
import { verifyAttestation, type AttestationClaims } from "../trust/attestation.js";
import type { RegistryKeySet } from "./registry-keys.js";

/** The outcome: act on `claims`, or refuse for `problem`. */
export type EventCheck =
  | { readonly ok: true; readonly claims: AttestationClaims }
  | { readonly ok: false; readonly problem: string; readonly unknownKey?: boolean };

/** The parts of an event id `<country>:<epoch>:<sequence>`; the epoch may itself hold colons. */
export function parseEventId(eventId: string): { country: string; epoch: string; sequence: bigint } | undefined {
  const match = /^([A-Z]{2}):(.*):(\d{1,20})$/.exec(eventId);
  if (!match) return undefined;
  return { country: match[1]!, epoch: match[2]!, sequence: BigInt(match[3]!) };
}

/** Why the claims do not support the event, or undefined when they do. */
function mismatch(event: StolenEvent, claims: AttestationClaims): string | undefined {
  const deviceKey = event.device?.deviceKey ?? "";
  if (claims.device_key !== deviceKey) return `the attestation is about device ${claims.device_key}, not the event's ${deviceKey}`;
  if (claims.registry !== event.country) return `the attestation is from registry ${claims.registry}, not the event's ${event.country}`;
  const id = parseEventId(event.eventId);
  if (!id) return `the event id ${JSON.stringify(event.eventId)} is not <country>:<epoch>:<sequence>`;
  if (id.country !== event.country) return `the event id names ${id.country}, but the event is from ${event.country}`;
  // Only a change attestation (it names the change and its sequence) backs an event: a finding
  // attestation from a lookup, or an older change's, must not be replayed as a new event.
  if (claims.seq === undefined || claims.change === undefined) return "the attestation is not of a registry change (it has no seq and change claims): a lookup's attestation cannot back an event";
  if (BigInt(claims.seq) !== id.sequence) return `the attestation is for change ${claims.seq}, not the event's ${id.sequence}`;
  switch (event.kind) {
    case StolenEventKind.STOLEN_VERIFIED:
      if (claims.status !== "PROHIBITED") return `STOLEN_VERIFIED needs an attested PROHIBITED status, the attestation says ${claims.status}`;
      if (claims.verified !== true) return "STOLEN_VERIFIED needs a report verified by law enforcement, the attestation says it is not verified";
      if (claims.change !== "REPORTED") return "STOLEN_VERIFIED needs an attested report, not a clearing";
      return undefined;
    case StolenEventKind.TRACKED:
      if (claims.status !== "TRACKED") return `TRACKED needs an attested TRACKED status, the attestation says ${claims.status}`;
      if (claims.verified !== true) return "TRACKED needs a report verified by law enforcement, the attestation says it is not verified";
      return undefined;
    case StolenEventKind.CLEARED:
      if (claims.change !== "CLEARED" && claims.status !== "PERMITTED") {
        return `CLEARED needs an attested clearing, the attestation says ${claims.change ?? "no change"} with status ${claims.status}`;
      }
      return undefined;
    default:
      return `event kind ${StolenEventKind[event.kind] ?? event.kind} is not one a manufacturer acts on`;
  }
}

/**
 * Verifies an event's attestation with the owning registry's keys (the
 * country's own keys when the key set has them, else all keys) and checks its
 * claims against the event. Never throws: a bad event is a value to refuse.
 */
export async function checkEventAttestation(event: StolenEvent, keys: RegistryKeySet, options: { now?: Date } = {}): Promise<EventCheck> {
  if (!event.attestation) return { ok: false, problem: "the event carries no attestation" };
  const jwks = keys.byCountry.get(event.country) ?? keys.all;
  let claims: AttestationClaims;
  try {
    claims = await verifyAttestation(event.attestation, jwks, options.now ? { now: options.now } : {});
  } catch (error) {
    const message = error instanceof ImeifedError ? error.message : String(error);
    return { ok: false, problem: message, ...(/no key with kid/.test(message) ? { unknownKey: true } : {}) };
  }
  const problem = mismatch(event, claims);
  return problem ? { ok: false, problem: `attestation does not match the event: ${problem}` } : { ok: true, claims };
}
