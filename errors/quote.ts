/**
 * How an error message shows a value the caller sent: a short, escaped
 * prefix in double quotes, whatever the value holds.
 *
 * Why: a status message travels in the `grpc-message` header, and a client
 * refuses headers past its metadata limit (8 KB for grpc-js): an error that
 * echoed an 8 KB value whole reached the caller as RESOURCE_EXHAUSTED, its
 * reason lost. Escaping keeps a control character or a bidi override the
 * caller sent from acting on the terminal or log that shows the message.
 * Every error message that quotes input quotes it through `quote`.
 */

/** Code points of the value an error message shows at most. */
export const QUOTE_LIMIT = 32;

/**
 * What is escaped: the quote and the backslash, control characters (Cc),
 * format characters (Cf: bidi controls, zero-width characters), line and
 * paragraph separators, lone surrogates, private-use and unassigned code points.
 */
const ESCAPED = /["\\\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Cs}\p{Co}\p{Cn}]/gu;

const SHORT_ESCAPES: Readonly<Record<string, string>> = { '"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t" };

function escape(char: string): string {
  return SHORT_ESCAPES[char] ?? `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}${char.length > 1 ? `\\u${char.charCodeAt(1).toString(16).padStart(4, "0")}` : ""}`;
}

/**
 * `value` as an error message shows it: at most `limit` code points, escaped,
 * in double quotes, followed by `…` and the value's length when cut, e.g.
 * `"AAAAAAAA"… (8192 characters)`.
 */
export function quote(value: string, limit = QUOTE_LIMIT): string {
  // Cut by code points, never inside a surrogate pair; only the head of a long value is looked at.
  const points = Array.from(value.length > 2 * limit ? value.slice(0, 2 * limit + 1) : value);
  const cut = points.length > limit;
  const shown = (cut ? points.slice(0, limit) : points).join("").replace(ESCAPED, escape);
  return cut ? `"${shown}"… (${value.length} characters)` : `"${shown}"`;
}
