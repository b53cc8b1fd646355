/**
 * The `pei` query parameter of GetEquipmentStatus (TS 29.571's Pei): what 5G
 * cores send for a phone is `imei-<15 digits>` or `imeisv-<16 digits>`
 * (TS 23.003 clause 6.2; an IMEISV carries no check digit). Other PEI forms
 * (a MAC address, an EUI-64) name devices no stolen-phone registry lists,
 * and are refused as a bad parameter like a malformed IMEI.
 */
import { equipmentIdentityOf, type EquipmentIdentity } from "../equipment-check.js";

/** A PEI read, or the reason it cannot be (for `invalidParams[].reason`; the value itself is never echoed). */
export type PeiReading = { readonly ok: true; readonly device: EquipmentIdentity } | { readonly ok: false; readonly reason: string };

const IMEI = /^imei-(\d{15})$/;
const IMEISV = /^imeisv-(\d{16})$/;

/** Reads a PEI as TS 29.571 spells it (lower-case prefix, digits only). */
export function readPei(pei: string): PeiReading {
  const digits = IMEI.exec(pei)?.[1] ?? IMEISV.exec(pei)?.[1];
  if (digits !== undefined) return { ok: true, device: equipmentIdentityOf(digits, "pei") };
  if (/^imei-/.test(pei)) return { ok: false, reason: "an imei- PEI has exactly 15 digits after the prefix (TAC, serial, check digit)" };
  if (/^imeisv-/.test(pei)) return { ok: false, reason: "an imeisv- PEI has exactly 16 digits after the prefix (TAC, serial, software version)" };
  return { ok: false, reason: "this EIR checks phones by IMEI or IMEISV: send imei-<15 digits> or imeisv-<16 digits>" };
}
