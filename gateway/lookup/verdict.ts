/**
 * The federated verdict rules: PROHIBITED wins, then TRACKED; PERMITTED needs
 * every asked registry to have answered; otherwise UNKNOWN. Stale findings
 * count: a down registry's cached theft report still prohibits the device.
 */
import { DeviceStatus } from "../../gen/imeifed/v1/device_pb.js";
import { Verdict, type RegistryFinding, type Unanswered } from "../../gen/imeifed/v1/federation_pb.js";

/** Whether a registry lists the device: PROHIBITED or TRACKED (PERMITTED and UNSPECIFIED are not listings). */
export function isListed(status: DeviceStatus): boolean {
  return status === DeviceStatus.PROHIBITED || status === DeviceStatus.TRACKED;
}

/** The verdict for a set of findings and the registries that did not answer. */
export function verdictOf(answer: { findings: readonly RegistryFinding[]; unanswered: readonly Unanswered[] }): Verdict {
  let tracked = false;
  for (const f of answer.findings) {
    const status = f.finding?.status;
    if (status === DeviceStatus.PROHIBITED) return Verdict.PROHIBITED;
    if (status === DeviceStatus.TRACKED) tracked = true;
  }
  if (tracked) return Verdict.TRACKED;
  return answer.unanswered.length === 0 ? Verdict.PERMITTED : Verdict.UNKNOWN;
}

/** The verdict's name without the enum prefix (for logs, metrics and the CLI). */
export function verdictName(verdict: Verdict): string {
  return Verdict[verdict] ?? "UNSPECIFIED";
}
