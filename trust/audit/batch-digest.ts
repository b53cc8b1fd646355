/**
 * The digest an audit entry records for a batch instead of its device keys:
 * SHA-256 (hex) of the sorted keys joined by newlines, so the same set gives
 * the same digest whatever the order, and whoever holds the manifest can prove
 * it was the one asked.
 */
import { createHash } from "node:crypto";

/** The digest of a batch's 14-digit device keys. */
export function batchDigest(keys: Iterable<string>): string {
  return createHash("sha256").update([...keys].sort().join("\n")).digest("hex");
}

/**
 * `batchDigest` of device keys given as numbers (`numbers[i] ===
 * Number(keys[i])`, each key 14 digits): the same digest, from the numbers.
 *
 * Why: a registry digests every CheckDevices batch, and sorting key strings
 * is slow on real, unordered batches: ~200 ns a key for 10,000 random keys
 * (sort, join and hash), more than the store's lookup of them. Equal-length
 * digit strings sort as their numbers do, so each key is split into its first
 * and last seven digits (two integers below 2^24), the pairs are radix-sorted
 * (four passes of 12 bits; a typed array's own sort costs ~50 ns a key) unless
 * already in order, and the digits are written back from the halves, two at a
 * time: ~58 ns a key for random keys, ~28 for ordered ones (strings: ~40).
 * Tests compare the two over generated keys.
 */
export function batchDigestOfKeyNumbers(numbers: Float64Array): string {
  const n = numbers.length;
  const highs = new Uint32Array(n);
  const lows = new Uint32Array(n);
  // Batches often come in order (a manifest's devices, a TAC range): then there is nothing to sort.
  let ordered = true;
  for (let i = 0; i < n; i++) {
    const key = numbers[i]!;
    const h = Math.floor(key / 1e7);
    highs[i] = h;
    lows[i] = key - h * 1e7;
    if (i > 0 && key < numbers[i - 1]!) ordered = false;
  }
  const [high, low] = ordered ? [highs, lows] : sortPairs(highs, lows);
  const text = Buffer.allocUnsafe(Math.max(0, n * 15 - 1));
  for (let i = 0, at = 0; i < n; i++, at += 15) {
    writeSevenDigits(text, at, high[i]!);
    writeSevenDigits(text, at + 7, low[i]!);
    if (i + 1 < n) text[at + 14] = 10; // "\n"
  }
  return createHash("sha256").update(text).digest("hex");
}

const RADIX_BITS = 12;
const RADIX = 1 << RADIX_BITS;
const RADIX_MASK = RADIX - 1;

/** Sorts (high, low) pairs of integers below 2^24 by high, then low: an LSD radix sort, low's two digits first. */
function sortPairs(high: Uint32Array<ArrayBuffer>, low: Uint32Array<ArrayBuffer>): [Uint32Array<ArrayBuffer>, Uint32Array<ArrayBuffer>] {
  const n = high.length;
  let nextHigh = new Uint32Array(n);
  let nextLow = new Uint32Array(n);
  const counts = new Uint32Array(RADIX);
  for (let pass = 0; pass < 4; pass++) {
    const by = pass < 2 ? low : high;
    const shift = (pass & 1) * RADIX_BITS;
    counts.fill(0);
    for (let i = 0; i < n; i++) counts[(by[i]! >>> shift) & RADIX_MASK]!++;
    // Every key has the same digit here (common: one TAC range): nothing moves.
    if (n === 0 || counts[(by[0]! >>> shift) & RADIX_MASK] === n) continue;
    for (let d = 0, at = 0; d < RADIX; d++) {
      const count = counts[d]!;
      counts[d] = at;
      at += count;
    }
    for (let i = 0; i < n; i++) {
      const at = counts[(by[i]! >>> shift) & RADIX_MASK]!++;
      nextHigh[at] = high[i]!;
      nextLow[at] = low[i]!;
    }
    [high, nextHigh] = [nextHigh, high];
    [low, nextLow] = [nextLow, low];
  }
  return [high, low];
}

/** "00" to "99" as character codes, two a pair. */
const DIGIT_PAIRS = Uint8Array.from({ length: 200 }, (_, i) => 48 + (i & 1 ? (i >> 1) % 10 : Math.floor((i >> 1) / 10)));

/** Writes `value` (below 10^7) as seven digits, leading zeros included, at `at`. */
function writeSevenDigits(text: Buffer, at: number, value: number): void {
  for (let end = at + 7; end > at + 1; end -= 2) {
    const rest = (value / 100) | 0;
    const pair = (value - rest * 100) * 2;
    text[end - 2] = DIGIT_PAIRS[pair]!;
    text[end - 1] = DIGIT_PAIRS[pair + 1]!;
    value = rest;
  }
  text[at] = 48 + value;
}
