/**
 * The one error type of imeifed. Every failure a caller can see is an
 * ImeifedError with a gRPC status `code`, a stable `reason` string callers may
 * branch on, and a message that tells the caller what to fix.
 *
 * Domain code throws it; `rpc/status.ts` is the only place that turns it into
 * a gRPC status. Anything else thrown becomes INTERNAL with a generic message,
 * so internal details never leak to a caller.
 */
import type { Reason } from "./reasons.js";

/** gRPC status codes (the numbers are the wire values). */
export enum Code {
  OK = 0,
  CANCELLED = 1,
  UNKNOWN = 2,
  INVALID_ARGUMENT = 3,
  DEADLINE_EXCEEDED = 4,
  NOT_FOUND = 5,
  ALREADY_EXISTS = 6,
  PERMISSION_DENIED = 7,
  RESOURCE_EXHAUSTED = 8,
  FAILED_PRECONDITION = 9,
  ABORTED = 10,
  OUT_OF_RANGE = 11,
  UNIMPLEMENTED = 12,
  INTERNAL = 13,
  UNAVAILABLE = 14,
  DATA_LOSS = 15,
  UNAUTHENTICATED = 16,
}

export interface ImeifedErrorOptions {
  /** The request field at fault, for INVALID_ARGUMENT (for example `imeis[3]`). */
  field?: string;
  /** How long the caller should wait before retrying (RESOURCE_EXHAUSTED, UNAVAILABLE). */
  retryAfterMs?: number;
  cause?: unknown;
}

/**
 * Marks every ImeifedError with a process-wide symbol, so `instanceof` holds
 * even when a module loader has made two copies of this module (tsx does, for
 * a dynamic import() next to a static one): a status must never turn into
 * INTERNAL because of how a module was loaded.
 */
const BRAND = Symbol.for("imeifed.ImeifedError");

export class ImeifedError extends Error {
  static override [Symbol.hasInstance](value: unknown): boolean {
    return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[BRAND] === true;
  }

  override readonly name = "ImeifedError";
  readonly [BRAND] = true;
  readonly field: string | undefined;
  readonly retryAfterMs: number | undefined;

  constructor(
    readonly code: Code,
    /** Stable, machine-readable reason, for example `IMEI_CHECK_DIGIT`. */
    readonly reason: Reason,
    message: string,
    options: ImeifedErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.field = options.field;
    this.retryAfterMs = options.retryAfterMs;
  }

  /** Normalises anything thrown: aborts become CANCELLED, the rest INTERNAL. */
  static from(thrown: unknown): ImeifedError {
    if (thrown instanceof ImeifedError) return thrown;
    if (thrown instanceof Error && thrown.name === "AbortError") {
      return new ImeifedError(Code.CANCELLED, "CANCELLED", "the call was cancelled", { cause: thrown });
    }
    return new ImeifedError(Code.INTERNAL, "INTERNAL", "internal error", { cause: thrown });
  }

  /** Re-prefixes the field of an INVALID_ARGUMENT error, e.g. `imei` -> `imeis[3]`. */
  withField(field: string): ImeifedError {
    const message = this.field ? this.message.replace(this.field, field) : `${field}: ${this.message}`;
    return new ImeifedError(this.code, this.reason, message, { field, retryAfterMs: this.retryAfterMs, cause: this.cause });
  }
}

/** Shorthand for the most common failure: a request field the caller must fix. */
export function invalidArgument(field: string, reason: Reason, problem: string): ImeifedError {
  return new ImeifedError(Code.INVALID_ARGUMENT, reason, `${field}: ${problem}`, { field });
}

/** A caller whose identity could not be verified (no, bad or expired token). */
export function unauthenticated(reason: Reason, message: string, cause?: unknown): ImeifedError {
  return new ImeifedError(Code.UNAUTHENTICATED, reason, message, cause === undefined ? {} : { cause });
}

/** A verified caller that may not do this (scope, kind, sharing policy, another agency's case). */
export function permissionDenied(reason: Reason, message: string): ImeifedError {
  return new ImeifedError(Code.PERMISSION_DENIED, reason, message);
}
