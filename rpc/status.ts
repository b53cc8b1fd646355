/**
 * The one place where errors become gRPC statuses (server side) and statuses
 * become errors (client side).
 */
import { Metadata, type ServiceError, type StatusObject } from "@grpc/grpc-js";
import { Code, ImeifedError, isReason, type Reason } from "../errors/index.js";

/** Trailing metadata key carrying a retry delay in milliseconds (RESOURCE_EXHAUSTED). */
export const RETRY_AFTER_MS_KEY = "retry-after-ms";
/** Trailing metadata key carrying the stable reason of an ImeifedError. */
export const ERROR_REASON_KEY = "imeifed-error-reason";

/** Called with every error that maps to INTERNAL or UNKNOWN, so it can be logged. */
export type InternalErrorSink = (error: unknown, where: string) => void;

let internalErrorSink: InternalErrorSink = (error, where) => {
  console.error(JSON.stringify({ level: "error", msg: "internal error", where, error: String((error as Error)?.stack ?? error) }));
};

/** Replaces where internal errors are reported; returns the previous sink. */
export function setInternalErrorSink(sink: InternalErrorSink): InternalErrorSink {
  const previous = internalErrorSink;
  internalErrorSink = sink;
  return previous;
}

/** Maps anything a handler threw to the status the caller receives. */
export function toStatus(thrown: unknown, where: string, trailer = new Metadata()): Partial<StatusObject> {
  const error = ImeifedError.from(thrown);
  if (error.code === Code.INTERNAL && !(thrown instanceof ImeifedError)) internalErrorSink(thrown, where);
  trailer.set(ERROR_REASON_KEY, error.reason);
  if (error.retryAfterMs !== undefined) trailer.set(RETRY_AFTER_MS_KEY, String(Math.ceil(error.retryAfterMs)));
  return { code: error.code as number, details: error.message, metadata: trailer };
}

/**
 * The reason a peer sent, when this version knows it; otherwise the status's own name (a newer peer's
 * reason, or none at all), so callers branch on a closed list. The message still carries the peer's words.
 */
function reasonFromWire(sent: unknown, code: number): Reason {
  if (typeof sent === "string" && isReason(sent)) return sent;
  const name = Code[code];
  return name !== undefined && isReason(name) ? name : "UNKNOWN";
}

/** Turns a grpc-js client error into an ImeifedError with the same code and message. */
export function fromServiceError(error: ServiceError | Error): ImeifedError {
  if (error instanceof ImeifedError) return error;
  const se = error as Partial<ServiceError>;
  if (typeof se.code !== "number") return ImeifedError.from(error);
  const reason = reasonFromWire(se.metadata?.get(ERROR_REASON_KEY)?.[0], se.code);
  const retry = se.metadata?.get(RETRY_AFTER_MS_KEY)?.[0];
  return new ImeifedError(se.code as number as Code, reason, se.details ?? error.message, {
    ...(retry !== undefined ? { retryAfterMs: Number(retry) } : {}),
    cause: error,
  });
}

/**
 * A failure carried inside a stream message rather than as the call's status
 * (CheckDevicesStream answers each batch; one bad batch must not end the
 * stream). The same fields as a status, mapped by the same rules.
 */
export interface MessageError {
  code: number;
  reason: string;
  message: string;
  /** 0 when no retry delay applies. */
  retryAfterMs: number;
}

/** Maps anything a handler threw for one stream message, as `toStatus` maps it for a call. */
export function toMessageError(thrown: unknown, where: string): MessageError {
  const error = ImeifedError.from(thrown);
  if (error.code === Code.INTERNAL && !(thrown instanceof ImeifedError)) internalErrorSink(thrown, where);
  return { code: error.code as number, reason: error.reason, message: error.message, retryAfterMs: Math.ceil(error.retryAfterMs ?? 0) };
}

/** The ImeifedError of a stream message's failure (the client side of `toMessageError`). */
export function fromMessageError(error: MessageError): ImeifedError {
  const code = Code[error.code] === undefined ? Code.UNKNOWN : (error.code as Code);
  return new ImeifedError(code, reasonFromWire(error.reason, code), error.message, error.retryAfterMs > 0 ? { retryAfterMs: error.retryAfterMs } : {});
}
