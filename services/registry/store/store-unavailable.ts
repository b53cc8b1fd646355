/**
 * A database the registry cannot reach (PostgreSQL down or restarting) or
 * cannot write to just now (another process holds SQLite's write lock) is a
 * passing condition: callers get UNAVAILABLE with a retry delay, not INTERNAL.
 */
import { Code, ImeifedError } from "../../../errors/index.js";

/** PostgreSQL SQLSTATE classes and codes that mean "the server is not there right now". */
const POSTGRES_UNAVAILABLE = /^(08|57P0[123]|53300)/;
const SOCKET_ERRORS = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "EPIPE", "EHOSTUNREACH", "ENOTFOUND"]);

/** UNAVAILABLE for a lost or refused connection or a busy SQLite file; anything else is returned unchanged. */
export function asStoreUnavailable(error: unknown): unknown {
  if (error instanceof ImeifedError) return error;
  const code = (error as { code?: unknown })?.code;
  const message = (error as Error)?.message ?? "";
  if (typeof code === "string" && (code.startsWith("SQLITE_BUSY") || code === "SQLITE_LOCKED")) {
    return new ImeifedError(Code.UNAVAILABLE, "STORE_BUSY", "the registry database is busy (an import may be running); retry in a moment", {
      retryAfterMs: 1_000,
      cause: error,
    });
  }
  const lost = typeof code === "string" ? POSTGRES_UNAVAILABLE.test(code) || SOCKET_ERRORS.has(code) : /^Connection terminated/.test(message);
  if (lost) {
    return new ImeifedError(Code.UNAVAILABLE, "STORE_UNAVAILABLE", "the registry database cannot be reached; retry in a moment", { retryAfterMs: 1_000, cause: error });
  }
  return error;
}
