/**
 * Deadline math for upstream calls: nothing the gateway starts may outlive the
 * caller's deadline, and no registry may hold a call longer than its cap.
 */

export interface UpstreamDeadlineRule {
  /** Kept back from the caller's deadline so the answer can still leave in time. */
  marginMs: number;
  /** The longest one upstream call may take. */
  capMs: number;
}

/**
 * The deadline of one upstream call: min(caller deadline − margin, now + cap);
 * with no caller deadline, now + cap.
 */
export function upstreamDeadline(callerDeadline: Date | undefined, rule: UpstreamDeadlineRule, now = Date.now()): Date {
  const capped = now + rule.capMs;
  if (callerDeadline === undefined) return new Date(capped);
  return new Date(Math.min(callerDeadline.getTime() - rule.marginMs, capped));
}

/** The deadline a Lookup works to when its caller set none: long enough for the slowest upstream plus the margin. */
export function defaultCallerDeadline(rule: UpstreamDeadlineRule, now = Date.now()): Date {
  return new Date(now + rule.capMs + rule.marginMs);
}
