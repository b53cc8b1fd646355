/**
 * The mapping of `changes` and `sightings` rows to what the store returns,
 * shared by the SQLite and PostgreSQL stores (PostgreSQL returns int8 as strings).
 */
import type { ChangeKind, SightingKind } from "../../../gen/imeifed/v1/registry_pb.js";
import type { DeviceStatus } from "../../../gen/imeifed/v1/device_pb.js";
import type { DeviceKey } from "../../../device/index.js";
import type { StoredChange, StoredRecord, StoredSighting } from "./registry-store.js";

/** A changes row as either driver returns it. */
export interface ChangeRow {
  seq: number | string;
  kind: number;
  device_key: string;
  record_id: number | string;
  status: number;
  holding_record_id: number | string | null;
  changed_at: number | string;
  attestation: string | null;
}

/** A change row plus the records it names (the changed one and the one holding the device). */
export function changeFromRow(row: ChangeRow, records: ReadonlyMap<string, StoredRecord>): StoredChange {
  const record = records.get(String(row.record_id));
  if (!record) throw new Error(`change ${row.seq} names record ${row.record_id}, which does not exist`);
  return {
    seq: Number(row.seq),
    kind: row.kind as ChangeKind,
    deviceKey: row.device_key as DeviceKey,
    status: row.status as DeviceStatus,
    changedAt: Number(row.changed_at),
    record,
    holding: row.holding_record_id === null ? undefined : records.get(String(row.holding_record_id)),
    attestation: row.attestation ?? undefined,
  };
}

/** A sightings row joined with its record's case reference. */
export interface SightingRow {
  seq: number | string;
  record_id: number | string;
  agency: string;
  device_key: string;
  kind: number;
  seen_in_country: string;
  partner_kind: string;
  partner_id: string;
  seen_at: number | string;
  purpose: string;
  found_location: string | null;
  found_holding_agency: string | null;
  found_contact: string | null;
  found_note: string | null;
  case_reference: string;
}

export function sightingFromRow(row: SightingRow): StoredSighting {
  return {
    seq: Number(row.seq),
    recordId: String(row.record_id),
    agency: row.agency,
    caseReference: row.case_reference,
    deviceKey: row.device_key as DeviceKey,
    kind: row.kind as SightingKind,
    seenInCountry: row.seen_in_country,
    partnerKind: row.partner_kind,
    partnerId: row.partner_id,
    seenAt: Number(row.seen_at),
    purpose: row.purpose,
    found:
      row.found_location === null
        ? undefined
        : {
            location: row.found_location,
            holdingAgency: row.found_holding_agency ?? "",
            contact: row.found_contact ?? "",
            note: row.found_note ?? "",
          },
  };
}
