/**
 * A registry's sharing policy: what each kind of partner, from each country,
 * may see of the registry's findings. The registry applies it to the *real*
 * requester (the actor of a delegated call, see `requesterOf`), never to the
 * gateway that relays the call, so a gateway cannot widen what is shared.
 *
 * Policy file shape (YAML or JSON, inside the registry config under `sharing`):
 *
 * ```yaml
 * sharing:
 *   default: { withhold: [reporting_agency, case_token] }   # requesters no rule matches
 *   rules:
 *     - { kind: police, withhold: [] }                         # police see everything
 *     - { kind: customs, withhold: [reporting_agency, case_token] }
 *     - { kind: manufacturer, withhold: [reporting_agency, case_token] }
 *     - { country: XX, share: none }                           # nothing for anyone from XX
 *     - { kind: police, country: XX, withhold: [case_token] }  # ...except XX's police
 * ```
 *
 * Matching: a rule matches when each of its `kind` and `country` it names
 * equals the requester's. The most specific matching rule wins: kind and
 * country > country only > kind only > neither. Two rules with the same
 * kind/country pair are a configuration error. When no rule matches, `default`
 * applies.
 *
 * Defaults (when `sharing`, `rules` or `default` are omitted): the three rules
 * above for police, customs and manufacturers, and `default` withholding
 * reporting_agency and case_token, so a kind the operator did not think of
 * (pilot, registry, gateway, admin) never sees more than customs. A `rules`
 * list, once given, is the whole list: the built-in rules are not merged in,
 * so what is written is what applies.
 */
import { clone } from "@bufbuild/protobuf";
import { z } from "zod";
import { FindingSchema, type Finding } from "../gen/imeifed/v1/device_pb.js";
import { PRINCIPAL_KINDS, type Actor } from "./principal.js";

/**
 * The Finding fields a policy may withhold. The verdict itself (country,
 * device_key, status, reason, verified, reported_at) is never withheld: a
 * partner that may see a finding at all must be able to act on it; a registry
 * that does not want that uses `share: none`.
 */
export const WITHHOLDABLE_FIELDS = ["reporting_agency", "case_token", "occurred_at", "make", "model", "source_reason_code", "attestation"] as const;
export type WithholdableField = (typeof WITHHOLDABLE_FIELDS)[number];

const treatmentSchema = z.union([
  z.object({ share: z.literal("none") }).strict(),
  z.object({ withhold: z.array(z.enum(WITHHOLDABLE_FIELDS)) }).strict(),
]);

const ruleSchema = z.union([
  z.object({ kind: z.enum(PRINCIPAL_KINDS).optional(), country: z.string().regex(/^[A-Z]{2}$/, "must be an ISO 3166-1 alpha-2 code in capitals").optional(), share: z.literal("none") }).strict(),
  z.object({ kind: z.enum(PRINCIPAL_KINDS).optional(), country: z.string().regex(/^[A-Z]{2}$/, "must be an ISO 3166-1 alpha-2 code in capitals").optional(), withhold: z.array(z.enum(WITHHOLDABLE_FIELDS)) }).strict(),
]);

/** The built-in rules: police see everything; customs and manufacturers do not see who reported nor the case. */
export const DEFAULT_SHARING_RULES: readonly SharingRule[] = [
  { kind: "police", withhold: [] },
  { kind: "customs", withhold: ["reporting_agency", "case_token"] },
  { kind: "manufacturer", withhold: ["reporting_agency", "case_token"] },
];
/** What requesters no rule matches get: no more than customs. */
export const DEFAULT_SHARING_FALLBACK: SharingTreatment = { withhold: ["reporting_agency", "case_token"] };

/** Validates a sharing policy from config, filling the documented defaults. */
export const sharingPolicySchema = z
  .object({
    default: treatmentSchema.default(DEFAULT_SHARING_FALLBACK as { withhold: WithholdableField[] }),
    rules: z.array(ruleSchema).default(DEFAULT_SHARING_RULES as z.input<typeof ruleSchema>[]),
  })
  .strict()
  .superRefine((policy, ctx) => {
    const seen = new Map<string, number>();
    policy.rules.forEach((rule, i) => {
      const key = `${rule.kind ?? "*"}/${rule.country ?? "*"}`;
      const first = seen.get(key);
      if (first !== undefined) {
        ctx.addIssue({ code: z.ZodIssueCode.custom, path: ["rules", i], message: `rules[${first}] and rules[${i}] both match kind ${rule.kind ?? "any"} and country ${rule.country ?? "any"}; keep one` });
      }
      seen.set(key, i);
    });
  });

/** A validated sharing policy. */
export type SharingPolicy = z.output<typeof sharingPolicySchema>;
/** One rule of a policy. */
export type SharingRule = z.output<typeof ruleSchema>;
/** What a requester gets: nothing, or findings with some fields withheld. */
export type SharingTreatment = z.output<typeof treatmentSchema>;

/** The policy used when a registry's config says nothing about sharing. */
export const DEFAULT_SHARING_POLICY: SharingPolicy = sharingPolicySchema.parse({});

function specificity(rule: SharingRule): number {
  return (rule.country !== undefined ? 2 : 0) + (rule.kind !== undefined ? 1 : 0);
}

/**
 * The treatment a requester gets, before any finding is looked at: a registry
 * that refuses a requester should refuse every call of theirs, listed device
 * or not, so that a refusal never reveals whether a device is listed.
 */
export function sharingFor(requester: Actor, policy: SharingPolicy): SharingTreatment & { rule: string } {
  let best: SharingRule | undefined;
  for (const rule of policy.rules) {
    if (rule.kind !== undefined && rule.kind !== requester.kind) continue;
    if (rule.country !== undefined && rule.country !== requester.country.toUpperCase()) continue;
    if (!best || specificity(rule) > specificity(best)) best = rule;
  }
  const treatment = best ?? policy.default;
  const rule = best ? `rule kind=${best.kind ?? "any"} country=${best.country ?? "any"}` : "default";
  return "share" in treatment ? { share: "none", rule } : { withhold: treatment.withhold, rule };
}

/** Why a requester is refused: the text of the PERMISSION_DENIED the registry answers. */
function refusalText(requester: Actor): string {
  return `this registry's sharing policy shares no findings with ${requester.kind} requesters from ${requester.country || "an unknown country"} (requester ${requester.id})`;
}

/** Refusal text when the policy shares nothing with this requester, otherwise undefined. */
export function sharingRefusal(requester: Actor, policy: SharingPolicy): string | undefined {
  return "share" in sharingFor(requester, policy) ? refusalText(requester) : undefined;
}

/**
 * Applies the policy to one finding for one requester (pass `requesterOf(caller)`).
 * Returns a copy with the withheld fields cleared and named in
 * `withheld_fields` (the input is not changed), or a refusal. It never widens:
 * fields already empty stay empty and earlier withheld names are kept.
 * Withheld names are listed whether or not the field had a value, so the list
 * reveals nothing about the record.
 */
export function applySharing(finding: Finding, requester: Actor, policy: SharingPolicy): { finding: Finding } | { refused: string } {
  const treatment = sharingFor(requester, policy);
  if ("share" in treatment) return { refused: refusalText(requester) };
  const shared = clone(FindingSchema, finding);
  for (const field of treatment.withhold) {
    switch (field) {
      case "reporting_agency":
        shared.reportingAgency = "";
        break;
      case "case_token":
        shared.caseToken = "";
        break;
      case "occurred_at":
        shared.occurredAt = undefined;
        break;
      case "make":
        shared.make = "";
        break;
      case "model":
        shared.model = "";
        break;
      case "source_reason_code":
        shared.sourceReasonCode = "";
        break;
      case "attestation":
        shared.attestation = "";
        break;
    }
  }
  const withheld = new Set([...finding.withheldFields, ...treatment.withhold]);
  shared.withheldFields = [...withheld].sort();
  return { finding: shared };
}
