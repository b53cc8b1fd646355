/**
 * What every RegistryService handler works with: this registry's identity,
 * its store, its signer, its sharing policy and limits. Built once by
 * `startRegistry`.
 */
import { Code, ImeifedError } from "../../errors/index.js";
import type { CallContext } from "../../rpc/index.js";
import type { QuotaLimiter } from "../../trust/quota.js";
import type { SharingPolicy } from "../../trust/sharing-policy.js";
import type { RegistryAttestations } from "./registry-attestations.js";
import type { RegistryStore } from "./store/registry-store.js";

export interface RegistryContext {
  /** ISO 3166-1 alpha-2 code of the country this registry serves. */
  readonly country: string;
  /** The registry's principal id (the audience of its tokens, the issuer of its attestations). */
  readonly id: string;
  readonly store: RegistryStore;
  readonly attestations: RegistryAttestations;
  readonly sharing: SharingPolicy;
  /** Most IMEIs one CheckDevices call may hold. */
  readonly batchLimit: number;
  /** How long callers may keep an answer (0: do not keep copies). */
  readonly cacheMaxAgeSec: number;
  /** Counts the devices of each batch against the caller's quota, when quotas are configured. */
  readonly quota: QuotaLimiter | undefined;
  /** True once shutdown began: open streams end with UNAVAILABLE so their callers reconnect elsewhere or later. */
  readonly closing: () => boolean;
  /** The clock handlers read (epoch ms): `Date.now` except in tests that move time. */
  readonly now: () => number;
}


/** The error a stream ends with when the registry shuts down under it. */
export function shuttingDown(): ImeifedError {
  return new ImeifedError(Code.UNAVAILABLE, "SHUTTING_DOWN", "the registry is shutting down; reconnect and resume from the last sequence you saw", {
    retryAfterMs: 1_000,
  });
}
