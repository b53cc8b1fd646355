/**
 * The digest an audit entry records for a batch instead of its device keys:
 * SHA-256 (hex) of the sorted keys joined by newlines, so the same set gives
 * the same digest whatever the order, and whoever holds the manifest can prove
 * it was the one asked.
 */
import { createHash } from "node:crypto";
import { writeSevenDigits } from "../../device/index.js";

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
 * and last seven digits (two integers below 2^24) and the pairs are put in
 * order: left as they are when already in order (~28 ns a key in all; the
 * strings took ~40), their ascending runs merged when there are a few (a
 * manifest's run of devices with a few others among them: ~42), radix-sorted
 * otherwise (four passes of 12 bits; a typed array's own sort costs ~50 ns a
 * key: ~56 in all). The digits are written back from the halves, two at a time.
 * Tests compare the two over generated keys.
 */
export function batchDigestOfKeyNumbers(numbers: Float64Array): string {
  const n = numbers.length;
  const highs = new Uint32Array(n);
  const lows = new Uint32Array(n);
  // Where each ascending run starts: batches often come in order (a manifest's devices, a TAC
  // range), or nearly (a few other devices among them), and then merging the runs is cheaper.
  const runs = [0];
  for (let i = 0; i < n; i++) {
    const key = numbers[i]!;
    const h = Math.floor(key / 1e7);
    highs[i] = h;
    lows[i] = key - h * 1e7;
    if (i > 0 && key < numbers[i - 1]! && runs.length <= MAX_MERGED_RUNS) runs.push(i);
  }
  const [high, low] = runs.length === 1 ? [highs, lows] : runs.length <= MAX_MERGED_RUNS ? mergeRuns(highs, lows, runs) : sortPairs(highs, lows);
  const text = Buffer.allocUnsafe(Math.max(0, n * 15 - 1));
  for (let i = 0, at = 0; i < n; i++, at += 15) {
    writeSevenDigits(text, at, high[i]!);
    writeSevenDigits(text, at + 7, low[i]!);
    if (i + 1 < n) text[at + 14] = 10; // "\n"
  }
  return createHash("sha256").update(text).digest("hex");
}

/** Up to this many ascending runs are merged; more are radix-sorted. */
const MAX_MERGED_RUNS = 32;

type Pairs = [Uint32Array<ArrayBuffer>, Uint32Array<ArrayBuffer>];

/** Merges the ascending runs of (high, low) pairs that start at `starts` (bottom-up, two at a time). */
function mergeRuns(high: Uint32Array<ArrayBuffer>, low: Uint32Array<ArrayBuffer>, starts: readonly number[]): Pairs {
  const n = high.length;
  let nextHigh = new Uint32Array(n);
  let nextLow = new Uint32Array(n);
  let bounds = [...starts, n];
  while (bounds.length > 2) {
    const merged = [0];
    for (let r = 0; r + 1 < bounds.length; r += 2) {
      const from = bounds[r]!;
      const middle = bounds[r + 1]!;
      const to = r + 2 < bounds.length ? bounds[r + 2]! : middle;
      let a = from;
      let b = middle;
      let at = from;
      while (a < middle && b < to) {
        // Pair a before pair b unless b is smaller (stable: equal keys keep their order).
        const takeB = high[b]! < high[a]! || (high[b] === high[a] && low[b]! < low[a]!);
        const source = takeB ? b++ : a++;
        nextHigh[at] = high[source]!;
        nextLow[at++] = low[source]!;
      }
      while (a < middle) {
        nextHigh[at] = high[a]!;
        nextLow[at++] = low[a++]!;
      }
      while (b < to) {
        nextHigh[at] = high[b]!;
        nextLow[at++] = low[b++]!;
      }
      merged.push(to);
    }
    if (merged[merged.length - 1] !== n) merged.push(n);
    bounds = merged;
    [high, nextHigh] = [nextHigh, high];
    [low, nextLow] = [nextLow, low];
  }
  return [high, low];
}

const RADIX_BITS = 12;
const RADIX = 1 << RADIX_BITS;
const RADIX_MASK = RADIX - 1;

/** Sorts (high, low) pairs of integers below 2^24 by high, then low: an LSD radix sort, low's two digits first. */
function sortPairs(high: Uint32Array<ArrayBuffer>, low: Uint32Array<ArrayBuffer>): Pairs {
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
