/**
 * The one rule for text in a request: bounded, and plain. Every string field
 * of every request of the contract obeys it (request-text.ts applies it where
 * a request enters), and so does what enters by other doors (a registry's CSV
 * import), so a value is refused or accepted alike whichever way it came.
 *
 * Refused everywhere: C0 controls (TAB, CR and LF included: no field of the
 * contract is multi-line, and a line break in a case reference or a found
 * report's contact forges lines in logs, CSV reports and the owning agency's
 * screens), DEL, C1 controls, the Unicode line and paragraph separators, and
 * the bidirectional embedding, override and isolate controls, which make a
 * text read differently from what it holds (an officer reading a contact
 * must see what was sent). Left-to-right and right-to-left marks stay
 * allowed: mixed Latin and Arabic or Hebrew text needs them.
 */
import { invalidArgument, quote, type ImeifedError } from "../errors/index.js";

/** The refused characters (see the module comment); U+2028-U+202E are the two separators and the five embeddings and overrides. */
const REFUSED = /[\u0000-\u001f\u007f-\u009f\u2028-\u202e\u2066-\u2069]/;

/** True when `value` obeys the rule: at most `limit` characters (UTF-16 code units), none of them refused. */
export function isPlainText(value: string, limit: number): boolean {
  return value.length <= limit && !REFUSED.test(value);
}

/**
 * True for a byte of ASCII text the rule refuses (a C0 control or DEL), for
 * hand-written decoders that read text as ASCII bytes: every other character
 * the rule refuses lies beyond ASCII.
 */
export function isRefusedAsciiByte(byte: number): boolean {
  return byte < 0x20 || byte === 0x7f;
}

function kindOf(code: number): string {
  if (code === 0x2028 || code === 0x2029) return "a line or paragraph separator";
  if (code >= 0x202a) return "a bidirectional text control";
  return "a control character";
}

/**
 * The INVALID_ARGUMENT naming `field` for a `value` that breaks the rule
 * (`isPlainText(value, limit)` is false): TOO_LONG, or CONTROL_CHARACTER
 * with the character, where it stands and a short quote of the value.
 */
export function textRefusal(field: string, value: string, limit: number): ImeifedError {
  if (value.length > limit) return invalidArgument(field, "TOO_LONG", `is ${value.length} characters long; at most ${limit} are accepted`);
  const at = value.search(REFUSED);
  const code = value.charCodeAt(at);
  return invalidArgument(
    field,
    "CONTROL_CHARACTER",
    `holds ${kindOf(code)} (U+${code.toString(16).toUpperCase().padStart(4, "0")}) at position ${at + 1} of ${quote(value)}; send plain text (no control characters, line breaks or bidi controls)`,
  );
}

/** Returns `value` when it obeys the rule; throws `textRefusal` otherwise. */
export function checkText(value: string, field: string, limit: number): string {
  if (!isPlainText(value, limit)) throw textRefusal(field, value, limit);
  return value;
}
