/**
 * The one place a failure becomes what the page is told: an ImeifedError keeps
 * its status and message (they are written for callers and already say what
 * to fix); anything else is logged here and reaches the page only as
 * "internal error", so nothing internal leaks.
 */
import { Code as ConnectCode, ConnectError } from "@connectrpc/connect";
import { ImeifedError } from "../../errors/index.js";

export function connectErrorOf(thrown: unknown, log: (line: string) => void): ConnectError {
  if (thrown instanceof ConnectError) return thrown;
  const error = ImeifedError.from(thrown);
  if (error.reason === "INTERNAL" && error.cause !== undefined) log(`console: internal error: ${(error.cause as Error)?.stack ?? String(error.cause)}`);
  // Connect's codes are gRPC's, number for number.
  return new ConnectError(error.message, error.code as number as ConnectCode);
}
