/**
 * Sends the errors that callers only see as "internal error" to the
 * structured log, with the trace id of the call that failed, so an operator
 * can find the cause of a caller's complaint.
 */
import { setInternalErrorSink } from "../rpc/status.js";
import type { Logger } from "./logger.js";
import { traceOfFailure } from "./rpc-tracing.js";

/** Makes rpc/status.ts log internal errors through `logger` (call once at process start). */
export function logInternalErrors(logger: Logger): void {
  setInternalErrorSink((error, where) => {
    // The status is built after the handler's span has ended and left the
    // async context, so the span is found through the error instead.
    logger.withTrace(traceOfFailure(error)).error("internal error", { where, error });
  });
}
