/**
 * The device key of an identifier printed as plain digits (a 15-digit IMEI,
 * a 16-digit IMEISV or the 14-digit body, nothing else), read without
 * building a Device: a screening gateway reads one per manifest item, a
 * registry one per IMEI of a CheckDevices batch.
 *
 * Why: nearly every item of a real manifest is plain, nearly every one is
 * clear, and a clear item needs only its key. `parseDevice` accepts every form
 * (prefixes, separators) and builds a Device of six strings per item; on a
 * million-item screening that was the gateway's largest per-item cost after
 * the registries' answers. Anything that is not plain, or not valid, is left to
 * `parseDevice`, which says what is wrong; a finding builds its Device from the
 * key. Tests compare both over generated inputs.
 */

/**
 * The 14-digit device key of `input` (or of its characters `start` to `end`:
 * a field inside a decoded message's text, read without cutting it out) as a
 * number (exact: below 2^53) when it is plain digits that `parseDevice`
 * accepts; -1 otherwise (not plain, or invalid: let `parseDevice` say why).
 */
export function plainDeviceKey(input: string, start = 0, end = input.length): number {
  const length = end - start;
  if (length < 14 || length > 16) return -1;
  let key = 0;
  let sum = 0;
  for (let i = 0; i < 14; i++) {
    const d = input.charCodeAt(start + i) - 48;
    if (d < 0 || d > 9) return -1;
    key = key * 10 + d;
    // Luhn over the body: the rightmost body digit (odd index) is doubled.
    sum += i & 1 ? (d > 4 ? 2 * d - 9 : 2 * d) : d;
  }
  if (key === 0) return -1; // all zeros: parseDevice names it
  for (let i = 14; i < length; i++) {
    const d = input.charCodeAt(start + i) - 48;
    if (d < 0 || d > 9) return -1;
  }
  if (length === 15 && input.charCodeAt(start + 14) - 48 !== (10 - (sum % 10)) % 10) return -1;
  return key;
}

