/**
 * What a screening has found so far: counts per outcome, the countries that did
 * not answer, and the decision they lead to. Kept apart from the stream so the
 * decision rule reads in one place and is tested on its own.
 *
 * The decision rule: HOLD when any item is PROHIBITED, TRACKED, MALFORMED,
 * DUPLICATE or MODEL_MISMATCH (each is evidence an officer must look at), or
 * when some registry did not answer for some item and the shipment's policy is
 * HOLD (an unset policy counts as HOLD: customs would rather look twice than
 * let a stolen phone through on a registry's outage). RELEASE otherwise.
 *
 * "Did not answer" means an outage (deadline, unavailable, circuit open): a
 * registry whose sharing policy refuses this caller, or a country outside the
 * federation, will never answer, so it is listed in the summary but neither
 * marks items UNANSWERED nor holds a shipment (holding would never end).
 */
import { create } from "@bufbuild/protobuf";
import {
  ScreeningDecision,
  ScreeningOutcome,
  ScreeningSummarySchema,
  UnansweredPolicy,
  UnansweredReason,
  UnansweredSchema,
  type ScreeningSummary,
  type Unanswered,
} from "../../gen/imeifed/v1/federation_pb.js";

/** Outcomes that are evidence on their own: any one of them holds the shipment. */
export const HOLDING_OUTCOMES: ReadonlySet<ScreeningOutcome> = new Set([
  ScreeningOutcome.PROHIBITED,
  ScreeningOutcome.TRACKED,
  ScreeningOutcome.MALFORMED,
  ScreeningOutcome.DUPLICATE,
  ScreeningOutcome.MODEL_MISMATCH,
]);

/** Every outcome, in the order the summary lists them. */
export const OUTCOMES: readonly ScreeningOutcome[] = [
  ScreeningOutcome.CLEAR,
  ScreeningOutcome.PROHIBITED,
  ScreeningOutcome.TRACKED,
  ScreeningOutcome.MALFORMED,
  ScreeningOutcome.DUPLICATE,
  ScreeningOutcome.MODEL_MISMATCH,
  ScreeningOutcome.UNANSWERED,
];

/** True for the reasons a later retry could change: an outage, not a refusal. */
export function isOutage(u: Pick<Unanswered, "reason">): boolean {
  return u.reason !== UnansweredReason.REFUSED && u.reason !== UnansweredReason.UNKNOWN_COUNTRY;
}

/** The decision rule (see the module comment). */
export function screeningDecision(
  counts: ReadonlyMap<ScreeningOutcome, number>,
  anyUnanswered: boolean,
  policy: UnansweredPolicy,
): ScreeningDecision {
  for (const outcome of HOLDING_OUTCOMES) if ((counts.get(outcome) ?? 0) > 0) return ScreeningDecision.HOLD;
  if (anyUnanswered && policy !== UnansweredPolicy.PASS) return ScreeningDecision.HOLD;
  return ScreeningDecision.RELEASE;
}

/** Running counts of one screening. */
export class ScreeningTally {
  itemsScreened = 0;
  /** Findings streamed to the caller (every outcome but CLEAR and UNANSWERED). */
  findings = 0;
  readonly counts = new Map<ScreeningOutcome, number>();
  readonly #unanswered = new Map<string, Unanswered>();
  #outages = 0;

  /** Counts one item's outcome. */
  add(outcome: ScreeningOutcome, n = 1): void {
    this.itemsScreened += n;
    this.counts.set(outcome, (this.counts.get(outcome) ?? 0) + n);
    if (outcome !== ScreeningOutcome.CLEAR && outcome !== ScreeningOutcome.UNANSWERED) this.findings += n;
  }

  /** Remembers which countries did not answer (the first reason seen for each). */
  noteUnanswered(list: readonly Unanswered[]): void {
    for (const u of list) {
      if (this.#unanswered.has(u.country)) continue;
      this.#unanswered.set(u.country, u);
      if (isOutage(u)) this.#outages++;
    }
  }

  /** True when some registry was down for some item (what the HOLD policy looks at). */
  get anyOutage(): boolean {
    return this.#outages > 0;
  }

  /** The countries that did not answer for at least one item, by country code. */
  get unanswered(): Unanswered[] {
    return [...this.#unanswered.values()]
      .sort((a, b) => a.country.localeCompare(b.country))
      .map((u) => create(UnansweredSchema, { country: u.country, reason: u.reason, detail: u.detail }));
  }

  decision(policy: UnansweredPolicy): ScreeningDecision {
    return screeningDecision(this.counts, this.anyOutage, policy);
  }

  summary(declarationReference: string, policy: UnansweredPolicy): ScreeningSummary {
    return create(ScreeningSummarySchema, {
      itemsScreened: BigInt(this.itemsScreened),
      counts: OUTCOMES.map((outcome) => ({ outcome, count: BigInt(this.counts.get(outcome) ?? 0) })),
      unanswered: this.unanswered,
      decision: this.decision(policy),
      declarationReference,
    });
  }
}
