/**
 * Screening counts devices, not calls, against the caller's quota (issue 5:
 * devices per second for screening). A manifest of a million items is one call,
 * so refusing it half-way would waste the work done; instead the screening is
 * paced: when the quota says "retry in N ms", it waits N ms (reading nothing
 * more from the caller meanwhile, so back-pressure reaches the client) and
 * takes again. Only a cancelled call, or a chunk larger than the whole burst
 * allowance even after splitting, ends the stream.
 */
import { setTimeout as sleep } from "node:timers/promises";
import { Code, ImeifedError } from "../../errors/index.js";

/** The part of trust/quota.ts's QuotaLimiter screening uses. */
export interface DeviceQuota {
  /** Takes `n` devices or throws RESOURCE_EXHAUSTED (with `retryAfterMs`, or reason QUOTA_BATCH_TOO_LARGE). */
  takeDevices(principalId: string, n: number): void;
}

/** A `takeDevices` hook for one screening: waits out the quota instead of failing the stream. */
export function devicePacer(quota: DeviceQuota, principalId: string, signal: AbortSignal): (n: number) => Promise<void> {
  let portion = Number.POSITIVE_INFINITY;
  return async (n) => {
    let left = n;
    while (left > 0) {
      const take = Math.min(left, portion);
      try {
        quota.takeDevices(principalId, take);
        left -= take;
      } catch (error) {
        if (!(error instanceof ImeifedError) || error.code !== Code.RESOURCE_EXHAUSTED) throw error;
        if (error.reason === "QUOTA_BATCH_TOO_LARGE") {
          if (take <= 1) throw error;
          portion = Math.ceil(take / 2);
          continue;
        }
        await sleep(Math.max(1, error.retryAfterMs ?? 100), undefined, { signal });
      }
    }
  };
}
