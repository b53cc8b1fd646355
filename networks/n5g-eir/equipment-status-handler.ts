/**
 * GetEquipmentStatus (TS 29.511 clause 5.2.2.2):
 * `GET /n5g-eir-eic/v1/equipment-status?pei=…[&supi=…][&gpsi=…][&supported-features=…]`
 * answered `200 application/json {"status": …}`, and `GET /healthz` for load
 * balancers. Independent of the transport: the server (n5g-eir-server.ts)
 * hands it a request read from HTTP/2 or HTTP/1.1 and writes what it returns.
 *
 * The way in: the token first (401 without a good one, 403 without the scope
 * or the operator kind; refused before any work), then the caller's share of
 * the server (admission, quota), then the parameters (400 naming them), then
 * the equipment check (../equipment-check.ts).
 *
 * `supi` and `gpsi` identify a subscriber: they are checked for presence
 * and shape only, then dropped. They never reach the check, the audit, a
 * log line, a span or an error message (errors name the parameter, never its
 * value), and the request URL, which holds them, is never logged or traced.
 */
import { SpanKind, SpanStatusCode, trace } from "@opentelemetry/api";
import { Code, ImeifedError, unauthenticated } from "../../errors/index.js";
import { recordDevice } from "../../observability/device-span.js";
import { TRACER_NAME } from "../../observability/rpc-tracing.js";
import type { Caller } from "../../trust/principal.js";
import { bearerOf, requireAccess, type TokenGate } from "../../trust/token-gate.js";
import type { EquipmentCheck } from "../equipment-check.js";
import { policyFor, type FrontPolicy } from "../operator-policy.js";
import { readPei } from "./pei.js";
import { problem, problemOf, type InvalidParam, type Problem } from "./problem-details.js";

/** The resource of GetEquipmentStatus under its API root. */
export const EQUIPMENT_STATUS_PATH = "/n5g-eir-eic/v1/equipment-status";
/** The load balancers' health check. */
export const HEALTH_PATH = "/healthz";
/** Requests whose URL is longer are refused with 414: a PEI, a SUPI and a GPSI fit in a few hundred characters. */
const MAX_URL_LENGTH = 2_048;
const SERVICE = "N5g-eir GetEquipmentStatus";

/** One request, as the server read it. */
export interface EirRequest {
  readonly method: string;
  /** Path and query, as sent. */
  readonly url: string;
  /** The `authorization` header(s). */
  readonly authorization: string | readonly string[] | undefined;
  /** The `accept` header, if sent. */
  readonly accept: string | undefined;
  /** The client machine (rpc/peer-address.ts's clientAddress). */
  readonly address: string;
  /** When it arrived (epoch ms): the operator's budget counts from here. */
  readonly receivedAt: number;
}

/** What to write back. */
export interface EirResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

export interface EquipmentStatusHandlerOptions {
  readonly gate: TokenGate;
  /** Counts a call of `key` in (throws RESOURCE_EXHAUSTED past a limit); returns what counts it out (trust/admission.ts's Admission fits). */
  readonly admission: { admit(key: string, stream: boolean): () => void };
  /** Per-principal call quotas (trust/quota.ts's QuotaLimiter fits); none: unlimited. */
  readonly quota?: { takeCall(principalId: string): void } | undefined;
  readonly check: EquipmentCheck;
  readonly policy: FrontPolicy;
  /** False once the gateway is shutting down: answers are then 503, quickly. */
  readonly serving: () => boolean;
}

const JSON_HEADERS = { "content-type": "application/json" } as const;

function answer(status: number, body: unknown, headers: Record<string, string> = {}): EirResponse {
  return { status, headers: { ...JSON_HEADERS, ...headers }, body: JSON.stringify(body) };
}

function problemResponse(p: Problem): EirResponse {
  return { status: p.status, headers: { "content-type": "application/problem+json", ...p.headers }, body: JSON.stringify(p.body) };
}

/** Whether the `accept` header admits a JSON answer (absent: anything goes). */
function acceptsJson(accept: string | undefined): boolean {
  if (accept === undefined || accept.trim() === "") return true;
  return accept.split(",").some((part) => {
    const type = part.split(";")[0]!.trim().toLowerCase();
    return type === "*/*" || type === "application/*" || type === "application/json" || type === "application/problem+json";
  });
}

/** The operator calling, or the 401 / 403 / 429 it gets. */
async function operatorOf(options: EquipmentStatusHandlerOptions, request: EirRequest): Promise<Caller> {
  const header = request.authorization;
  if (Array.isArray(header) && header.length > 1) throw unauthenticated("TOKEN_MALFORMED", "send exactly one authorization header");
  const token = bearerOf(typeof header === "string" ? header : header?.[0]);
  if (token === undefined) throw unauthenticated("TOKEN_MISSING", `${SERVICE} needs a token: send "authorization: Bearer <token>" (an OAuth2 access token with scope n5g-eir-eic, signed with your key)`);
  const caller = await options.gate.callerOf(token, request.address);
  requireAccess(caller, SERVICE, "n5g-eir-eic", ["operator"]);
  return caller;
}

/** The query's single value of `name`; an InvalidParam when it is repeated or (for a required one) missing or empty. */
function single(query: URLSearchParams, name: string, required: boolean, problems: InvalidParam[]): string | undefined {
  const values = query.getAll(name);
  if (values.length > 1) problems.push({ param: `query ${name}`, reason: `is given ${values.length} times; give it once` });
  else if (values.length === 1 && values[0] === "") problems.push({ param: `query ${name}`, reason: required ? "is empty; it is required" : "is empty; leave it out or give a value" });
  else if (values.length === 0 && required) problems.push({ param: `query ${name}`, reason: "is missing; it is required" });
  return values.length === 1 && values[0] !== "" ? values[0] : undefined;
}

/** Builds the request handler of the N5g-eir front. */
export function createEquipmentStatusHandler(options: EquipmentStatusHandlerOptions): (request: EirRequest) => Promise<EirResponse> {
  const tracer = trace.getTracer(TRACER_NAME);
  return async (request) => {
    if (request.url.length > MAX_URL_LENGTH) return problemResponse(problem(414, "TOO_LONG", `the request URI has ${request.url.length} characters; this EIR reads at most ${MAX_URL_LENGTH}`));
    const queryAt = request.url.indexOf("?");
    const path = queryAt < 0 ? request.url : request.url.slice(0, queryAt);
    if (path === HEALTH_PATH) {
      if (request.method !== "GET" && request.method !== "HEAD") return problemResponse(problem(405, "INVALID_ARGUMENT", "GET /healthz", { headers: { allow: "GET, HEAD" } }));
      return options.serving() ? answer(200, { status: "SERVING" }) : problemResponse(problem(503, "SHUTTING_DOWN", "this gateway is shutting down"));
    }
    if (path !== EQUIPMENT_STATUS_PATH) {
      return problemResponse(problem(404, "NOT_FOUND", `no resource at this path; this EIR serves GET ${EQUIPMENT_STATUS_PATH}?pei=…`, { cause: "RESOURCE_URI_STRUCTURE_NOT_FOUND" }));
    }
    if (request.method !== "GET") return problemResponse(problem(405, "INVALID_ARGUMENT", `${request.method} is not served here; use GET`, { headers: { allow: "GET" } }));
    if (!acceptsJson(request.accept)) return problemResponse(problem(406, "INVALID_ARGUMENT", "the answer is application/json; accept it (or send no accept header)"));
    if (!options.serving()) return problemResponse(problem(503, "SHUTTING_DOWN", "this gateway is shutting down; ask another EIR or apply your failure action", { headers: { "retry-after": "1" } }));

    // The span names the path only: the query holds the subscriber's identities.
    const span = tracer.startSpan(SERVICE, { kind: SpanKind.SERVER, attributes: { "http.request.method": "GET", "url.path": EQUIPMENT_STATUS_PATH } });
    let response: EirResponse;
    let release: (() => void) | undefined;
    try {
      const operator = await operatorOf(options, request);
      span.setAttribute("imeifed.operator", operator.principal.id);
      release = options.admission.admit(operator.principal.id, false);
      options.quota?.takeCall(operator.principal.id);

      const query = new URLSearchParams(queryAt < 0 ? "" : request.url.slice(queryAt + 1));
      const problems: InvalidParam[] = [];
      const pei = single(query, "pei", true, problems);
      // Read for their shape only, and dropped: see the module comment.
      single(query, "supi", false, problems);
      single(query, "gpsi", false, problems);
      const features = single(query, "supported-features", false, problems);
      if (features !== undefined && !/^[A-Fa-f0-9]*$/.test(features)) problems.push({ param: "query supported-features", reason: "must be hexadecimal (TS 29.571 SupportedFeatures)" });
      const reading = pei === undefined ? undefined : readPei(pei);
      if (reading && !reading.ok) problems.unshift({ param: "query pei", reason: reading.reason });
      if (problems.length > 0 || !reading?.ok) {
        const missing = problems.some((p) => p.param === "query pei" && (p.reason.startsWith("is missing") || p.reason.startsWith("is empty")));
        response = problemResponse(
          problem(400, "INVALID_ARGUMENT", `the request's query is invalid: ${problems.map((p) => `${p.param} ${p.reason}`).join("; ")}`, {
            cause: missing ? "MANDATORY_QUERY_PARAM_MISSING" : problems[0]!.param === "query pei" ? "MANDATORY_QUERY_PARAM_INCORRECT" : "OPTIONAL_QUERY_PARAM_INCORRECT",
            invalidParams: problems,
          }),
        );
      } else {
        recordDevice(reading.device.body, span);
        const verdict = await options.check.check({ device: reading.device, operator, policy: policyFor(options.policy, operator.principal.id), receivedAt: request.receivedAt });
        span.setAttribute("imeifed.eir.status", verdict.status);
        span.setAttribute("imeifed.eir.basis", verdict.basis);
        response = answer(200, { status: verdict.status });
      }
    } catch (error) {
      const failure = ImeifedError.from(error);
      if (failure.code === Code.INTERNAL) span.recordException(error as Error);
      response = problemResponse(problemOf(failure));
    } finally {
      release?.();
    }
    span.setAttribute("http.response.status_code", response.status);
    if (response.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    span.end();
    return response;
  };
}
