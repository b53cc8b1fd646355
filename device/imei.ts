/**
 * Device identity: every accepted form of one device resolves to one 14-digit
 * DeviceKey (TAC + serial), so a theft reported under an IMEI is found by its
 * IMEISV, and vice versa.
 *
 * Accepted: a 15-digit IMEI (Luhn-checked), a 16-digit IMEISV (no check digit),
 * or the 14-digit body, with spaces, dashes, dots and slashes ignored, and the
 * `imei-` / `imeisv-` prefixes of 5G core PEIs (TS 29.571) or `urn:gsma:imei:`
 * (RFC 7254).
 */
import { invalidArgument, quote, type ImeifedError, type Reason } from "../errors/index.js";
import { issuingBodyOf } from "./issuing-body.js";
import { luhnCheckDigit } from "./luhn.js";

/** The 14-digit TAC + serial: the one key under which a device is stored and found. */
export type DeviceKey = string & { readonly __deviceKey: unique symbol };

export type DeviceForm = "imei" | "imeisv" | "body";

export interface Device {
  readonly key: DeviceKey;
  /** The 15-digit IMEI with the computed check digit. */
  readonly imei: string;
  readonly tac: string;
  readonly serial: string;
  readonly issuingBody: string;
  /** The form the identifier was given in. */
  readonly form: DeviceForm;
  /** The 2-digit software version, when given as an IMEISV. */
  readonly softwareVersion?: string;
}

export type DeviceParse = { ok: true; device: Device } | { ok: false; error: ImeifedError };

const SEPARATORS = /[\s\-./]/g;
const PREFIX = /^(?:urn:gsma:imei:|imeisv-|imei-)/i;

// At module level, not a closure in parseDevice: tsx (esbuild keepNames) names a
// nested function on every call, which tripled the cost of parsing an IMEI.
function failure(field: string, reason: Reason, problem: string): DeviceParse {
  return { ok: false, error: invalidArgument(field, reason, problem) };
}

/**
 * Parses any accepted identifier form. Never throws: a bad identifier is a
 * value (screening reports it, lookups turn it into INVALID_ARGUMENT).
 * `field` names the request field in the error message.
 */
export function parseDevice(input: string, field = "imei"): DeviceParse {
  const digits = input.trim().replace(PREFIX, "").replace(SEPARATORS, "");
  if (digits.length === 0) return failure(field, "IMEI_EMPTY", "is empty; give a 15-digit IMEI, a 16-digit IMEISV or the 14-digit body");
  if (!/^\d+$/.test(digits)) {
    const bad = digits.match(/\D/)?.[0] ?? "";
    return failure(field, "IMEI_NON_DIGIT", `has the non-digit character ${quote(bad)}; an IMEI holds digits only`);
  }
  let form: DeviceForm;
  if (digits.length === 15) form = "imei";
  else if (digits.length === 16) form = "imeisv";
  else if (digits.length === 14) form = "body";
  else {
    return failure(
      field,
      "IMEI_LENGTH",
      `has ${digits.length} digits; give 15 (IMEI), 16 (IMEISV) or 14 (TAC and serial)`,
    );
  }
  const body = digits.slice(0, 14);
  if (/^0+$/.test(body)) return failure(field, "IMEI_ALL_ZERO", "is all zeros, a sign of an altered IMEI");
  const check = luhnCheckDigit(body);
  if (form === "imei" && digits.charCodeAt(14) - 48 !== check) {
    return failure(field, "IMEI_CHECK_DIGIT", `fails the Luhn check: the check digit of ${mask(body)} is ${check}, not ${digits[14]}`);
  }
  const tac = body.slice(0, 8);
  const device: Device = {
    key: body as DeviceKey,
    imei: body + String(check),
    tac,
    serial: body.slice(8, 14),
    issuingBody: issuingBodyOf(tac),
    form,
    ...(form === "imeisv" ? { softwareVersion: digits.slice(14, 16) } : {}),
  };
  return { ok: true, device };
}

/** Parses or throws the INVALID_ARGUMENT error naming `field`. */
export function requireDevice(input: string, field = "imei"): Device {
  const parsed = parseDevice(input, field);
  if (!parsed.ok) throw parsed.error;
  return parsed.device;
}

/** The device for a key already known to be valid (from a store or a registry). */
export function deviceFromKey(key: string): Device {
  return requireDevice(key, "device_key");
}

/**
 * Masks an IMEI or device key for logs and console output (RFC 7254 treats the
 * IMEI as personal data): the TAC stays (make and model, useful to operators),
 * the serial is hidden but its last two digits.
 */
export function mask(identifier: string): string {
  const digits = identifier.replace(/\D/g, "");
  if (digits.length < 10) return "*".repeat(digits.length);
  return `${digits.slice(0, 8)}${"*".repeat(digits.length - 10)}${digits.slice(-2)}`;
}
