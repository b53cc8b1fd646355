/**
 * The equipment check a mobile network makes when a phone attaches, whatever
 * front it asks through (N5g-eir over HTTP/2, Diameter S13): the device's 14
 * digits go to the gateway's own FederationChecker (in this process, no extra
 * hop), within the operator's budget, and the federated findings become one
 * of the three answers networks know:
 *
 *   PROHIBITED anywhere -> BLACKLISTED; TRACKED -> GREYLISTED (the phone keeps
 *   working and its owning registry learns where it is); listed nowhere ->
 *   WHITELISTED.
 *
 * When registries do not all answer within the budget, a finding that arrived
 * still decides; otherwise the operator's policy for unanswered answers. A
 * well-formed IMEI that fails its check digit, or is all zeros, is a tampered
 * or counterfeit device: the operator's invalid-IMEI policy answers (never
 * WHITELISTED), unless a registry's finding is stricter.
 *
 * Every check is audited at the gateway (and, through the checker, at each
 * registry asked) with the operator as requester; every BLACKLISTED or
 * GREYLISTED answer from a finding becomes a sighting at the owning registry
 * (gateway/tripwire), once per device, operator and the operator's window.
 *
 * What stays true: the answer never waits past the budget; nothing about the
 * subscriber (SUPI, GPSI) ever reaches this module, so none of it can be
 * stored, audited or forwarded from here.
 */
import { type DeviceKey, luhnCheckDigit } from "../device/index.js";
import { Code, ImeifedError, invalidArgument } from "../errors/index.js";
import { DeviceStatus } from "../gen/imeifed/v1/device_pb.js";
import { SightingKind } from "../gen/imeifed/v1/registry_pb.js";
import type { FederatedAnswer, FederationChecker } from "../gateway/federation/federation-checker.js";
import type { Tripwire } from "../gateway/gateway-context.js";
import type { AuditLog } from "../trust/audit/index.js";
import { requesterOf, type Actor, type Caller } from "../trust/principal.js";
import type { EquipmentStatus, OperatorPolicy } from "./operator-policy.js";

/** A device as a network names it: its 14 digits, and what its check digit said. */
export interface EquipmentIdentity {
  /** TAC (8) and serial (6). */
  readonly body: string;
  /** `valid` / `invalid`: a 15-digit IMEI's Luhn digit held or failed; `absent`: an IMEISV or a 14-digit IMEI (S13) carries none. */
  readonly checkDigit: "valid" | "invalid" | "absent";
}

/**
 * The identity of a digit string as networks send it: 15 digits (an IMEI with
 * its check digit), 16 (an IMEISV: software version, no check digit) or 14
 * (S13's IMEI AVP). INVALID_ARGUMENT naming `field` for anything else.
 */
export function equipmentIdentityOf(digits: string, field: string): EquipmentIdentity {
  if (!/^\d+$/.test(digits) || (digits.length !== 14 && digits.length !== 15 && digits.length !== 16)) {
    throw invalidArgument(field, "IMEI_LENGTH", "must be 14 digits (TAC and serial), 15 (an IMEI with its check digit) or 16 (an IMEISV)");
  }
  const body = digits.slice(0, 14);
  if (digits.length !== 15) return { body, checkDigit: "absent" };
  return { body, checkDigit: digits.charCodeAt(14) - 48 === luhnCheckDigit(body) ? "valid" : "invalid" };
}

/** Why a verdict is what it is. */
export type VerdictBasis =
  /** A registry lists the device (PROHIBITED or TRACKED); a stale finding of a registry that could not be asked counts. */
  | "finding"
  /** Every registry asked answered, and none lists the device: the federation does not know it (S13's "equipment unknown", if an operator wants that). */
  | "not-listed"
  /** No finding, and some registries did not answer within the budget: the operator's `onUnanswered`. */
  | "unanswered-policy"
  /** The IMEI failed its check digit or is all zeros: the operator's `onInvalidImei` (or a stricter finding, then basis `finding`). */
  | "invalid-imei-policy";

/** One registry's listing behind a `finding` verdict. */
export interface ListingOf {
  /** The owning registry's country. */
  readonly country: string;
  readonly status: "PROHIBITED" | "TRACKED";
  /** Served from the gateway's memory because the registry could not be asked. */
  readonly stale: boolean;
}

/** The answer of an equipment check, and why. */
export type EquipmentVerdict =
  | { readonly status: Exclude<EquipmentStatus, "WHITELISTED">; readonly basis: "finding"; readonly listings: readonly ListingOf[]; readonly unanswered: readonly string[] }
  | { readonly status: "WHITELISTED"; readonly basis: "not-listed"; readonly unanswered: readonly [] }
  | { readonly status: EquipmentStatus; readonly basis: "unanswered-policy"; readonly unanswered: readonly string[] }
  | { readonly status: Exclude<EquipmentStatus, "WHITELISTED">; readonly basis: "invalid-imei-policy"; readonly problem: "check-digit" | "all-zero"; readonly unanswered: readonly string[] };

/** The front a check came through: it names the check in the audit (`method`) and to the registries (`purpose`). */
export interface NetworkFront {
  /** For example `N5gEir.GetEquipmentStatus`. */
  readonly method: string;
  /** For example `n5g-eir`. */
  readonly purpose: string;
}

/** One equipment check, as a front hands it over. */
export interface EquipmentQuestion {
  readonly device: EquipmentIdentity;
  /** The verified operator asking (its token's caller). */
  readonly operator: Caller;
  /** The operator's policy on this front (operator-policy.ts's policyFor). */
  readonly policy: OperatorPolicy;
  /** When the request arrived (epoch ms, default now): the budget counts from here. */
  readonly receivedAt?: number;
}

/** What the check tells its front after each answer (logs and metrics; IMEIs stay out). */
export interface EquipmentCheckEvent {
  readonly operator: string;
  readonly status: EquipmentStatus;
  readonly basis: VerdictBasis;
  readonly unanswered: readonly string[];
  readonly elapsedMs: number;
}

export interface EquipmentCheckOptions {
  /** The gateway's checker (gateway/federation-checker.ts). */
  readonly checker: Pick<FederationChecker, "check" | "links">;
  /** The gateway's tripwire; none: no sightings are sent. */
  readonly tripwire?: Tripwire | undefined;
  /** The gateway's audit log; none: nothing is audited at the gateway (tests, a gateway without `audit`). */
  readonly audit?: Pick<AuditLog, "append"> | undefined;
  /** The gateway's principal id, recorded as the audit entries' server. */
  readonly server: string;
  readonly front: NetworkFront;
  readonly onAnswer?: (event: EquipmentCheckEvent) => void;
  /** The clock, in epoch ms (tests). */
  readonly now?: () => number;
}

const STRICTNESS: Readonly<Record<EquipmentStatus, number>> = { WHITELISTED: 0, GREYLISTED: 1, BLACKLISTED: 2 };

/**
 * The answer is sent this long before the budget ends when the checker has
 * not returned by then, so that writing it (and a timer firing a little
 * late on a busy event loop) still fits in the budget. The checker itself
 * stops waiting for registries `deadlines.marginMs` before the end.
 */
const ANSWER_HEADROOM_MS = 10;

/** A front's equipment check over the gateway's checker, tripwire and audit. */
export class EquipmentCheck {
  readonly #options: EquipmentCheckOptions;
  readonly #now: () => number;

  constructor(options: EquipmentCheckOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /**
   * The verdict for one device. Throws only INVALID_ARGUMENT (a body that is
   * not 14 digits: the front's mistake) and UNAVAILABLE (`AUDIT_UNAVAILABLE`:
   * the check could not be recorded, so it is not answered).
   */
  async check(question: EquipmentQuestion): Promise<EquipmentVerdict> {
    const { device, operator, policy } = question;
    if (!/^\d{14}$/.test(device.body)) throw invalidArgument("device", "IMEI_LENGTH", "must be the 14 digits of TAC and serial");
    const receivedAt = question.receivedAt ?? this.#now();
    const requester = requesterOf(operator);
    const key = device.body as DeviceKey;
    const countries = this.#options.checker.links.map((link) => link.country);

    let verdict: EquipmentVerdict;
    let answer: FederatedAnswer | undefined;
    if (/^0+$/.test(device.body)) {
      // No registry holds an all-zero key (each refuses it as input): nothing to ask.
      verdict = { status: policy.onInvalidImei, basis: "invalid-imei-policy", problem: "all-zero", unanswered: [] };
    } else {
      answer = await this.#ask(key, requester, receivedAt, policy.budgetMs);
      const unanswered = answer ? answer.unanswered.map((u) => u.country) : countries;
      verdict = verdictOf(answer, unanswered, policy, device.checkDigit === "invalid");
    }

    await this.#audit(operator, key, countries, verdict, receivedAt);
    if (verdict.basis === "finding" && answer) this.#sighting(key, answer, requester, policy);
    this.#options.onAnswer?.({ operator: operator.principal.id, status: verdict.status, basis: verdict.basis, unanswered: verdict.unanswered, elapsedMs: this.#now() - receivedAt });
    return verdict;
  }

  /** The checker's answer, or undefined when it has not come by the end of the budget (less the headroom). */
  async #ask(key: DeviceKey, requester: Actor, receivedAt: number, budgetMs: number): Promise<FederatedAnswer | undefined> {
    const deadline = new Date(receivedAt + budgetMs);
    let timer: ReturnType<typeof setTimeout> | undefined;
    const outOfTime = new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), Math.max(0, receivedAt + budgetMs - ANSWER_HEADROOM_MS - this.#now()));
    });
    try {
      return await Promise.race([this.#options.checker.check(key, { deadline, requester, purpose: this.#options.front.purpose }), outOfTime]);
    } finally {
      clearTimeout(timer);
    }
  }

  async #audit(operator: Caller, key: DeviceKey, countries: string[], verdict: EquipmentVerdict, receivedAt: number): Promise<void> {
    const { audit, server, front } = this.#options;
    if (!audit) return;
    try {
      await audit.append({
        at: new Date(receivedAt),
        server,
        principal: operator.principal.id,
        actor: operator.actor?.id,
        purpose: front.purpose,
        method: front.method,
        deviceKey: key,
        countries,
        verdict: verdict.basis === "finding" || verdict.basis === "not-listed" ? verdict.status : `${verdict.status} ${verdict.basis}`,
        statusCode: Code.OK,
      });
    } catch (error) {
      const failure = ImeifedError.from(error);
      if (failure.code === Code.UNAVAILABLE) throw failure;
      throw new ImeifedError(Code.UNAVAILABLE, "AUDIT_UNAVAILABLE", "the audit log cannot record this check right now; retry later", { cause: error });
    }
  }

  /** Tells the owning registries where their listed device attached (fresh findings only: a stale one's registry cannot be reached now). */
  #sighting(key: DeviceKey, answer: FederatedAnswer, requester: Actor, policy: OperatorPolicy): void {
    const fresh = answer.findings.filter((f) => !f.stale);
    if (fresh.length === 0) return;
    this.#options.tripwire?.hit({
      key,
      findings: fresh,
      requester,
      kind: SightingKind.NETWORK_ATTACH,
      purpose: this.#options.front.purpose,
      repeatWindowMs: policy.sightingWindowMs,
      atHome: true,
    });
  }
}

/** The verdict from the checker's answer (undefined: none came within the budget). */
function verdictOf(answer: FederatedAnswer | undefined, unanswered: readonly string[], policy: OperatorPolicy, invalidCheckDigit: boolean): EquipmentVerdict {
  const listings: ListingOf[] = [];
  for (const f of answer?.findings ?? []) {
    const status = f.finding?.status;
    if (status === DeviceStatus.PROHIBITED || status === DeviceStatus.TRACKED) {
      listings.push({ country: f.finding!.country, status: status === DeviceStatus.PROHIBITED ? "PROHIBITED" : "TRACKED", stale: f.stale });
    }
  }
  const listed = listings.length === 0 ? undefined : listings.some((l) => l.status === "PROHIBITED") ? "BLACKLISTED" : "GREYLISTED";
  if (invalidCheckDigit) {
    if (listed !== undefined && STRICTNESS[listed] >= STRICTNESS[policy.onInvalidImei]) return { status: listed, basis: "finding", listings, unanswered };
    return { status: policy.onInvalidImei, basis: "invalid-imei-policy", problem: "check-digit", unanswered };
  }
  if (listed !== undefined) return { status: listed, basis: "finding", listings, unanswered };
  if (unanswered.length === 0) return { status: "WHITELISTED", basis: "not-listed", unanswered: [] };
  return { status: policy.onUnanswered, basis: "unanswered-policy", unanswered };
}
