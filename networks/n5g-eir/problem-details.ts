/**
 * Errors as TS 29.500 wants them on a service-based interface: RFC 7807
 * ProblemDetails, `application/problem+json`, with TS 29.571's members
 * (`cause`, `invalidParams`). Each carries imeifed's stable reason in
 * `type` (`urn:imeifed:reason:<REASON>`), so a core's logs name what to fix.
 */
import { Code, ImeifedError, type Reason } from "../../errors/index.js";

/** A query parameter at fault: `param` is "query " + its name (TS 29.571 InvalidParam). */
export interface InvalidParam {
  readonly param: string;
  readonly reason: string;
}

/** TS 29.571 ProblemDetails, the members this front sends. */
export interface ProblemDetails {
  readonly type: string;
  readonly title: string;
  readonly status: number;
  readonly detail: string;
  /** TS 29.500 application error, e.g. MANDATORY_QUERY_PARAM_INCORRECT. */
  readonly cause?: string;
  readonly invalidParams?: readonly InvalidParam[];
}

/** A ProblemDetails answer: its status, its body, and headers it needs (Retry-After, WWW-Authenticate). */
export interface Problem {
  readonly status: number;
  readonly body: ProblemDetails;
  readonly headers: Readonly<Record<string, string>>;
}

const TITLES: Readonly<Record<number, string>> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  406: "Not Acceptable",
  414: "URI Too Long",
  429: "Too Many Requests",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

/** A ProblemDetails answer built from its parts. */
export function problem(status: number, reason: Reason, detail: string, extra: { cause?: string; invalidParams?: readonly InvalidParam[]; headers?: Record<string, string> } = {}): Problem {
  return {
    status,
    body: {
      type: `urn:imeifed:reason:${reason}`,
      title: TITLES[status] ?? "Error",
      status,
      detail,
      ...(extra.cause ? { cause: extra.cause } : {}),
      ...(extra.invalidParams ? { invalidParams: extra.invalidParams } : {}),
    },
    headers: extra.headers ?? {},
  };
}

/** Reasons a server that cannot serve at all gives: the core should apply its own failure action. */
const CANNOT_SERVE: ReadonlySet<Reason> = new Set(["SERVER_BUSY", "SHUTTING_DOWN", "AUDIT_UNAVAILABLE"]);

/** The ProblemDetails answer of an error thrown while answering (never an internal message: INTERNAL reads "internal error"). */
export function problemOf(thrown: unknown): Problem {
  const error = ImeifedError.from(thrown);
  const retryAfter = error.retryAfterMs !== undefined ? { "retry-after": String(Math.max(1, Math.ceil(error.retryAfterMs / 1000))) } : undefined;
  switch (error.code) {
    case Code.INVALID_ARGUMENT:
      return problem(400, error.reason, error.message, { cause: "MANDATORY_QUERY_PARAM_INCORRECT", ...(error.field ? { invalidParams: [{ param: `query ${error.field}`, reason: error.message }] } : {}) });
    case Code.UNAUTHENTICATED:
      // RFC 6750: a bearer token's failure names its scheme and error.
      return problem(401, error.reason, error.message, { headers: { "www-authenticate": `Bearer error="invalid_token"`, ...retryAfter } });
    case Code.PERMISSION_DENIED:
      return problem(403, error.reason, error.message, { headers: { "www-authenticate": `Bearer error="insufficient_scope", scope="n5g-eir-eic"` } });
    case Code.RESOURCE_EXHAUSTED:
      if (CANNOT_SERVE.has(error.reason)) return problem(503, error.reason, error.message, { cause: "NF_CONGESTION", ...(retryAfter ? { headers: retryAfter } : {}) });
      // A failed-auth refusal is the caller's: its tokens failed too often.
      return problem(429, error.reason, error.message, { cause: "NF_CONGESTION_RISK", ...(retryAfter ? { headers: retryAfter } : {}) });
    case Code.UNAVAILABLE:
      return problem(503, error.reason, error.message, { ...(retryAfter ? { headers: retryAfter } : {}) });
    default:
      return problem(500, "INTERNAL", "internal error", { cause: "SYSTEM_FAILURE" });
  }
}
