/**
 * A last line of defence for personal data: IMEIs (RFC 7254 treats them as
 * personal data) must never leave the process unmasked, whether in a log line
 * or a span exported to an operator's backend. Code should call `mask()`
 * itself; this catches what it forgot.
 */
import { mask } from "../device/index.js";

/**
 * 14 to 16 digits (device key, IMEI, IMEISV), optionally split by the single
 * separators people write IMEIs with ("35-209900-176148-1"), not inside a
 * longer word or hex string (trace ids are hex and may hold long digit runs).
 */
const IMEI_LIKE = /(?<![0-9A-Za-z])\d(?:[-. /]?\d){13,15}(?![0-9A-Za-z])/g;

/** Masks every IMEI-like run of digits in `text`; returns `text` itself when there is none. */
export function redactImeis(text: string): string {
  // Most strings are short or digit-free: skip the regex for them.
  if (text.length < 14) return text;
  IMEI_LIKE.lastIndex = 0;
  if (!IMEI_LIKE.test(text)) return text;
  return text.replace(IMEI_LIKE, (found) => mask(found));
}
