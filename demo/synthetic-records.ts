/**
 * Synthetic registry records for the pilot: valid check digits, real-looking
 * TACs, a realistic mix of statuses (mostly stolen, some lost, some tracked
 * in recovery mode, some cleared), some law-enforcement verified, some dual-SIM.
 * Deterministic for a given seed, so samples in demo.json stay valid.
 */
import { luhnCheckDigit } from "../device/index.js";
import { DEMO_TACS, type DemoTac } from "./demo-tacs.js";

export type SyntheticKind = "stolen-verified" | "stolen" | "lost" | "tracked" | "cleared";

export interface SyntheticRecord {
  readonly kind: SyntheticKind;
  /** One IMEI, or two for a dual-SIM phone. */
  readonly imeis: readonly string[];
  readonly tac: DemoTac;
  readonly agency: string;
  readonly caseReference: string;
  readonly crimeReference?: string;
  readonly occurredAt: Date;
}

/** A small, fast, seedable PRNG (mulberry32): the data must be reproducible, not secret. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The 15-digit IMEI of a TAC and a serial number. */
export function imeiOf(tac: string, serial: number): string {
  const body = tac + String(serial).padStart(6, "0");
  return body + String(luhnCheckDigit(body));
}

const KIND_WEIGHTS: ReadonlyArray<[SyntheticKind, number]> = [
  ["stolen-verified", 0.45],
  ["stolen", 0.2],
  ["lost", 0.15],
  ["tracked", 0.1],
  ["cleared", 0.1],
];

function pickKind(r: number): SyntheticKind {
  let acc = 0;
  for (const [kind, weight] of KIND_WEIGHTS) {
    acc += weight;
    if (r < acc) return kind;
  }
  return "stolen";
}

/**
 * Yields `count` records for one country. `serialBase` keeps countries'
 * serial ranges apart so two registries never list the same device by chance.
 */
export function* syntheticRecords(options: { country: string; agency: string; count: number; seed: number; serialBase: number }): Generator<SyntheticRecord> {
  const random = seededRandom(options.seed);
  const start = Date.UTC(2025, 0, 1);
  const span = Date.UTC(2026, 10, 1) - start;
  // Serials advance by a small random stride within the country's range.
  let serial = options.serialBase;
  for (let i = 0; i < options.count; i++) {
    const tac = DEMO_TACS[Math.floor(random() * DEMO_TACS.length)]!;
    serial += 1 + Math.floor(random() * 2);
    const kind = pickKind(random());
    const dualSim = random() < 0.15;
    const imeis = dualSim ? [imeiOf(tac.tac, serial % 1_000_000), imeiOf(tac.tac, (serial + 1) % 1_000_000)] : [imeiOf(tac.tac, serial % 1_000_000)];
    if (dualSim) serial += 1;
    const year = 2025 + Math.floor(random() * 2);
    yield {
      kind,
      imeis,
      tac,
      agency: options.agency,
      caseReference: `${options.country}-${year}-${String(i + 1).padStart(7, "0")}`,
      ...(kind === "stolen-verified" || kind === "tracked" || kind === "cleared" ? { crimeReference: `CR/${options.country}/${year}/${100000 + i}` } : {}),
      occurredAt: new Date(start + Math.floor(random() * span)),
    };
  }
}

/** A TAC kept out of the synthetic records, so its devices are listed nowhere. */
export const UNLISTED_TAC: DemoTac = { tac: "35847632", make: "Google", model: "Pixel 7a" };

/** An IMEI no registry lists. */
export function unlistedImei(index: number): string {
  return imeiOf(UNLISTED_TAC.tac, index % 1_000_000);
}
