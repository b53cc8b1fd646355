/**
 * What a mobile network's operator decides about the answers its equipment
 * checks get, shared by every front a network may ask through (N5g-eir over
 * HTTP/2, Diameter S13): how long a check may take, what answers a device no
 * registry could be asked about within that, what answers a tampered IMEI,
 * and how often one device's attaches on one network are reported to its
 * owning registry. Each front's config section holds these defaults and,
 * under `operators`, any operator's own.
 */
import { z } from "zod";

/** The answers of an equipment check, in TS 29.511's words (S13's Equipment-Status 0, 1, 2). */
export const EQUIPMENT_STATUSES = ["WHITELISTED", "BLACKLISTED", "GREYLISTED"] as const;
export type EquipmentStatus = (typeof EQUIPMENT_STATUSES)[number];

/** A duration: milliseconds as a number, or text with its unit (`500ms`, `30s`, `15m`, `1h`). */
const durationMs = z.union([
  z.number().int().min(0),
  z
    .string()
    .regex(/^\d+(ms|s|m|h)$/, "give a duration such as 500ms, 30s, 15m or 1h (or a number of milliseconds)")
    .transform((text) => {
      const [, amount, unit] = /^(\d+)(ms|s|m|h)$/.exec(text)!;
      return Number(amount) * { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[unit as "ms" | "s" | "m" | "h"];
    }),
]);

/** An operator's policy, every field required (what `policyFor` returns). */
export interface OperatorPolicy {
  /** The longest an equipment check takes, from the request's arrival to its answer; never exceeded. */
  readonly budgetMs: number;
  /** The answer when no registry's finding decided and some registries did not answer within the budget. */
  readonly onUnanswered: EquipmentStatus;
  /** The answer for a well-formed IMEI that fails its check digit or is all zeros (a tampered or counterfeit device); never WHITELISTED. */
  readonly onInvalidImei: Exclude<EquipmentStatus, "WHITELISTED">;
  /** One device's BLACKLISTED or GREYLISTED attaches on one operator's network are reported to its owning registry once per this window. */
  readonly sightingWindowMs: number;
}

const policyFields = {
  /**
   * 500 ms by default: a 5G core waits on the EIR during registration, and
   * half a second is what a registration can spare; a registry slower than
   * that is treated as unanswered rather than holding a phone's attach.
   */
  budgetMs: z.number().int().min(1).max(30_000),
  /** WHITELISTED by default, so a registry outage never stops innocent phones. */
  onUnanswered: z.enum(EQUIPMENT_STATUSES),
  /** GREYLISTED by default: the device works, and the operator sees it was flagged. */
  onInvalidImei: z.enum(["BLACKLISTED", "GREYLISTED"]),
  /** One hour by default: a core re-checks a device at each registration, and the owner needs to hear once an hour at most. */
  sightingWindow: durationMs,
};

/** The defaults of `OperatorPolicy`, and why, are on each field above. */
export const DEFAULT_OPERATOR_POLICY: OperatorPolicy = { budgetMs: 500, onUnanswered: "WHITELISTED", onInvalidImei: "GREYLISTED", sightingWindowMs: 3_600_000 };

/**
 * The policy part of a front's config section: the front's defaults, and
 * per operator id the fields it sets otherwise. A front's schema extends it
 * with its transport (listen address, TLS, ...).
 */
export const frontPolicySchema = z.object({
  budgetMs: policyFields.budgetMs.default(DEFAULT_OPERATOR_POLICY.budgetMs),
  onUnanswered: policyFields.onUnanswered.default(DEFAULT_OPERATOR_POLICY.onUnanswered),
  onInvalidImei: policyFields.onInvalidImei.default(DEFAULT_OPERATOR_POLICY.onInvalidImei),
  sightingWindow: policyFields.sightingWindow.default(DEFAULT_OPERATOR_POLICY.sightingWindowMs),
  /** By operator principal id: what that operator sets otherwise. */
  operators: z.record(z.object(policyFields).partial().strict()).default({}),
});

/** A front's validated policy section. */
export type FrontPolicy = z.output<typeof frontPolicySchema>;

/** The policy in force for `operatorId` on a front. */
export function policyFor(front: FrontPolicy, operatorId: string): OperatorPolicy {
  const own = front.operators[operatorId];
  return {
    budgetMs: own?.budgetMs ?? front.budgetMs,
    onUnanswered: own?.onUnanswered ?? front.onUnanswered,
    onInvalidImei: own?.onInvalidImei ?? front.onInvalidImei,
    sightingWindowMs: own?.sightingWindow ?? front.sightingWindow,
  };
}
