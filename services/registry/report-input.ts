/**
 * The rules a report must meet, shared by ReportDevice and the CSV import so
 * both accept exactly the same reports: at least one valid IMEI, a listed
 * status, a reason, a case reference, a past occurrence date, bounded texts.
 */
import { DeviceStatus, Reason } from "../../gen/imeifed/v1/device_pb.js";
import { CrimeVerificationSchema, OwnerContactSchema, ReportDeviceRequestSchema } from "../../gen/imeifed/v1/registry_pb.js";
import { checkText, textLimitOf } from "../../contract/index.js";
import { invalidArgument } from "../../errors/index.js";
import { requireDevice, type DeviceKey } from "../../device/index.js";
import type { OwnerContactInput, ReportInput } from "./store/registry-store.js";

/** The fields of a report as a caller (or a CSV row) gives them. */
export interface ReportFields {
  readonly imeis: readonly string[];
  readonly status: DeviceStatus;
  readonly reason: Reason;
  readonly sourceReasonCode: string;
  readonly caseReference: string;
  readonly occurredAt: number | undefined;
  readonly make: string;
  readonly model: string;
  readonly crimeReference: string;
  readonly owner: OwnerContactInput | undefined;
  readonly reportedAt?: number;
}

/** More IMEIs than any real device has SIM slots is a mistake, not a device. */
export const MAX_IMEIS_PER_REPORT = 4;
/** How far ahead of our clock an occurrence date may be (clock skew between systems). */
const FUTURE_SKEW_MS = 5 * 60_000;

/**
 * The report's texts, by their names in messages, and the contract field whose
 * limit each obeys: a report that arrives by ReportDevice was checked against
 * the same limits as it entered, one imported from CSV is checked here.
 */
const TEXT_FIELDS = {
  case_reference: ReportDeviceRequestSchema.field.caseReference!,
  source_reason_code: ReportDeviceRequestSchema.field.sourceReasonCode!,
  make: ReportDeviceRequestSchema.field.make!,
  model: ReportDeviceRequestSchema.field.model!,
  "verification.crime_reference": CrimeVerificationSchema.field.crimeReference!,
  "owner_contact.name": OwnerContactSchema.field.name!,
  "owner_contact.phone": OwnerContactSchema.field.phone!,
  "owner_contact.email": OwnerContactSchema.field.email!,
} as const;

/** Maps a field name in messages (CSV import names its columns instead of proto fields). */
export type FieldNamer = (field: string) => string;

/** A text of the report under the contract's text rule, trimmed. */
function text(value: string, field: keyof typeof TEXT_FIELDS, name: FieldNamer): string {
  return checkText(value, name(field), textLimitOf(TEXT_FIELDS[field])).trim();
}

/** Validates a report by `agency` into what the store writes; throws INVALID_ARGUMENT naming the field. */
export function reportInputFrom(fields: ReportFields, agency: string, name: FieldNamer = (f) => f, now = Date.now()): ReportInput {
  if (fields.imeis.length === 0) throw invalidArgument(name("imeis"), "IMEIS_EMPTY", "give at least one IMEI of the device (both, for a dual-SIM phone)");
  if (fields.imeis.length > MAX_IMEIS_PER_REPORT) {
    throw invalidArgument(name("imeis"), "TOO_MANY_IMEIS", `holds ${fields.imeis.length} IMEIs; one report covers one device, with at most ${MAX_IMEIS_PER_REPORT}`);
  }
  const keys: DeviceKey[] = [];
  fields.imeis.forEach((imei, i) => {
    const key = requireDevice(imei, name(`imeis[${i}]`)).key;
    // The IMEI and IMEISV of one device give one key: list it once.
    if (!keys.includes(key)) keys.push(key);
  });
  if (fields.status !== DeviceStatus.PROHIBITED && fields.status !== DeviceStatus.TRACKED) {
    throw invalidArgument(name("status"), "STATUS_NOT_LISTED", "must be PROHIBITED (block) or TRACKED (recovery mode); use ClearDevice to make a device PERMITTED");
  }
  if (fields.reason === Reason.UNSPECIFIED || Reason[fields.reason] === undefined) {
    throw invalidArgument(name("reason"), "REASON_MISSING", `must say why: ${Object.keys(Reason).filter((k) => Number.isNaN(Number(k)) && k !== "UNSPECIFIED").join(", ")}`);
  }
  const caseReference = text(fields.caseReference, "case_reference", name);
  if (caseReference === "") throw invalidArgument(name("case_reference"), "CASE_REFERENCE_MISSING", "give your case reference: it makes the report idempotent and lets you clear it later");
  if (fields.occurredAt !== undefined && (!Number.isFinite(fields.occurredAt) || fields.occurredAt > now + FUTURE_SKEW_MS)) {
    throw invalidArgument(name("occurred_at"), "OCCURRED_IN_FUTURE", "lies in the future; give when the theft or loss happened");
  }
  const owner = fields.owner
    ? {
        name: text(fields.owner.name, "owner_contact.name", name),
        phone: text(fields.owner.phone, "owner_contact.phone", name),
        email: text(fields.owner.email, "owner_contact.email", name),
      }
    : undefined;
  return {
    agency,
    caseReference,
    deviceKeys: keys,
    status: fields.status,
    reason: fields.reason,
    sourceReasonCode: text(fields.sourceReasonCode, "source_reason_code", name),
    occurredAt: fields.occurredAt,
    make: text(fields.make, "make", name),
    model: text(fields.model, "model", name),
    crimeReference: text(fields.crimeReference, "verification.crime_reference", name),
    owner: owner && (owner.name || owner.phone || owner.email) ? owner : undefined,
    ...(fields.reportedAt !== undefined ? { reportedAt: fields.reportedAt } : {}),
  };
}
