/**
 * A device key's digits written from its number, straight into a buffer: for
 * the digests that cover many keys (a registry's batch digest, a screening's
 * audit digest), which would otherwise join the keys' strings and encode the
 * result (tens of megabytes of garbage in a million-item screening).
 */

/** "00" to "99" as character codes, two a pair. */
const DIGIT_PAIRS = Uint8Array.from({ length: 200 }, (_, i) => 48 + (i & 1 ? (i >> 1) % 10 : Math.floor((i >> 1) / 10)));

/** Writes `value` (below 10^7) as seven digits, leading zeros included, at `at`. */
export function writeSevenDigits(text: Uint8Array, at: number, value: number): void {
  for (let end = at + 7; end > at + 1; end -= 2) {
    const rest = (value / 100) | 0;
    const pair = (value - rest * 100) * 2;
    text[end - 2] = DIGIT_PAIRS[pair]!;
    text[end - 1] = DIGIT_PAIRS[pair + 1]!;
    value = rest;
  }
  text[at] = 48 + value;
}

/** Writes a 14-digit device key given as its number (`Number(key)`) at `at`: the key's own 14 characters, leading zeros included. */
export function writeKeyDigits(text: Uint8Array, at: number, keyNumber: number): void {
  const high = Math.floor(keyNumber / 1e7);
  writeSevenDigits(text, at, high);
  writeSevenDigits(text, at + 7, keyNumber - high * 1e7);
}
