/**
 * One measured figure of the benchmark, with the baseline it is compared to.
 * Figures are reported as ratios against a baseline measured in the same run,
 * because the machine is shared and noisy: absolute rates move ±30% between
 * runs, ratios much less.
 */
export interface BenchFigure {
  /** What was measured, e.g. "cache-hit Lookup, 64 in flight". */
  readonly name: string;
  readonly value: number;
  /** e.g. "calls/s", "ms", "rows/s", "bytes". */
  readonly unit: string;
  /** The same-run baseline the goal compares against. */
  readonly baseline?: { readonly name: string; readonly value: number; readonly unit: string };
  /** value / baseline.value (or the inverse where lower is better, see `goal`). */
  readonly ratio?: number;
  /** The goal as the issue states it, e.g. ">= 0.8x echo". */
  readonly goal?: string;
  /** Whether the goal was met in this run. */
  readonly met?: boolean;
}

/** A group of figures from one part of the system. */
export interface BenchSuite {
  readonly suite: string;
  readonly figures: readonly BenchFigure[];
}

/** Builds a figure with its ratio, where `higherIsBetter` says how to read the goal. */
export function ratioFigure(
  name: string,
  value: number,
  unit: string,
  baseline: { name: string; value: number; unit: string },
  goal?: { text: string; met: (ratio: number) => boolean },
): BenchFigure {
  const ratio = baseline.value === 0 ? Number.NaN : value / baseline.value;
  return { name, value, unit, baseline, ratio, ...(goal ? { goal: goal.text, met: goal.met(ratio) } : {}) };
}

/** The `q` quantile (0..1) of `values` (NaN when there are none): the value below which that share of them lie. */
export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = values.slice().sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

/** Rounded to two decimals, for a table. */
export const round2 = (x: number): number => Math.round(x * 100) / 100;

/** The mean of `values` (0 when there are none). */
export const mean = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
