/**
 * The longest text each string field of the contract's requests may hold, by
 * the field's full protobuf name. Every string field of every request message
 * (nested messages and stream messages included) must be listed: a service
 * whose requests hold an unlisted one refuses to start (request-text.ts), and
 * a test checks the table against the descriptors, so a new field cannot
 * arrive unbounded.
 *
 * A limit is in characters (UTF-16 code units, JavaScript's `length`), and
 * holds for the value as sent, before any trimming. Where a field had a
 * bound before this table, the table keeps it.
 */
import type { DescField } from "@bufbuild/protobuf";
import { PURPOSE_LIMIT } from "../trust/purpose.js";

/** A map field's limits: its keys' and its values'. */
export interface MapTextLimit {
  readonly key: number;
  readonly value: number;
}

/**
 * A device identifier in any accepted form (IMEI, IMEISV, 14-digit body, with
 * separators and a `urn:gsma:imei:` prefix), a country code, a principal kind,
 * a registry epoch (a UUID): identifiers whose own parsers refuse anything
 * else; the bound only keeps an absurd value from travelling further.
 */
const IDENTIFIER = 64;
/** The longest stolen-feed cursor the gateway issues (a cursor holds a few dozen registries' positions at most); feed-cursor.ts refuses longer ones by the same number. */
export const CURSOR_LIMIT = 16 * 1024;
/** A case, crime or manifest line reference. */
const REFERENCE = 128;
/** A make or a model name. */
const MODEL_NAME = 100;
/** A free-text note, or a found report's detail (where, who, how to reach them). */
const NOTE = 500;

const LIMITS: Readonly<Record<string, number | MapTextLimit>> = {
  // RegistryService
  "imeifed.v1.ReportDeviceRequest.imeis": IDENTIFIER,
  "imeifed.v1.ReportDeviceRequest.source_reason_code": 32,
  "imeifed.v1.ReportDeviceRequest.case_reference": REFERENCE,
  "imeifed.v1.ReportDeviceRequest.make": MODEL_NAME,
  "imeifed.v1.ReportDeviceRequest.model": MODEL_NAME,
  "imeifed.v1.CrimeVerification.crime_reference": REFERENCE,
  "imeifed.v1.OwnerContact.name": 200,
  "imeifed.v1.OwnerContact.phone": 64,
  // RFC 5321's longest forward path.
  "imeifed.v1.OwnerContact.email": 254,
  "imeifed.v1.ClearDeviceRequest.imei": IDENTIFIER,
  "imeifed.v1.ClearDeviceRequest.case_reference": REFERENCE,
  "imeifed.v1.ClearDeviceRequest.note": NOTE,
  "imeifed.v1.CheckDeviceRequest.imei": IDENTIFIER,
  "imeifed.v1.CheckDeviceRequest.purpose": PURPOSE_LIMIT,
  "imeifed.v1.CheckDevicesRequest.imeis": IDENTIFIER,
  "imeifed.v1.CheckDevicesRequest.purpose": PURPOSE_LIMIT,
  // W3C propagation fields (traceparent, tracestate, baggage); baggage, the longest, is at most 8,192 bytes.
  "imeifed.v1.CheckDevicesStreamRequest.trace_context": { key: 64, value: 8192 },
  "imeifed.v1.WatchChangesRequest.epoch": IDENTIFIER,
  "imeifed.v1.RecordSightingRequest.imei": IDENTIFIER,
  "imeifed.v1.RecordSightingRequest.seen_in_country": IDENTIFIER,
  "imeifed.v1.RecordSightingRequest.partner_kind": IDENTIFIER,
  // A principal id of the trust file.
  "imeifed.v1.RecordSightingRequest.partner_id": REFERENCE,
  "imeifed.v1.RecordSightingRequest.purpose": PURPOSE_LIMIT,
  "imeifed.v1.FoundDetails.location": NOTE,
  "imeifed.v1.FoundDetails.holding_agency": NOTE,
  "imeifed.v1.FoundDetails.contact": NOTE,
  "imeifed.v1.FoundDetails.note": NOTE,
  // FederationService
  "imeifed.v1.LookupRequest.imei": IDENTIFIER,
  "imeifed.v1.LookupRequest.countries": IDENTIFIER,
  "imeifed.v1.LookupRequest.purpose": PURPOSE_LIMIT,
  // The declaration reference is the purpose of every registry question of the screening.
  "imeifed.v1.Shipment.declaration_reference": PURPOSE_LIMIT,
  "imeifed.v1.Shipment.exporter": 200,
  "imeifed.v1.Shipment.destination_country": IDENTIFIER,
  "imeifed.v1.ManifestItem.device_id": IDENTIFIER,
  "imeifed.v1.ManifestItem.declared_make": MODEL_NAME,
  "imeifed.v1.ManifestItem.declared_model": MODEL_NAME,
  "imeifed.v1.ManifestItem.line_reference": REFERENCE,
  "imeifed.v1.ReportFoundRequest.imei": IDENTIFIER,
  "imeifed.v1.ReportFoundRequest.purpose": PURPOSE_LIMIT,
  "imeifed.v1.WatchStolenRequest.cursor": CURSOR_LIMIT,
};

/** `imeifed.v1.FoundDetails.contact`: the key of the table. */
export function fullNameOf(field: DescField): string {
  return `${field.parent.typeName}.${field.name}`;
}

/** The table's entry for `field`, or undefined when it has none. */
export function textLimitEntry(field: DescField): number | MapTextLimit | undefined {
  return LIMITS[fullNameOf(field)];
}

/** The limit of a string (or repeated string) field; throws for a field the table does not list as one. */
export function textLimitOf(field: DescField): number {
  const limit = textLimitEntry(field);
  if (typeof limit !== "number") throw new Error(`${fullNameOf(field)} has no text limit in contract/text-limits.ts`);
  return limit;
}
