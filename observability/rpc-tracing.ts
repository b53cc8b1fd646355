/**
 * Spans for every RPC, carried across processes in gRPC metadata (W3C
 * `traceparent`/`tracestate`), so one lookup reads as one trace: the
 * gateway's SERVER span, its CLIENT span per registry call, and each
 * registry's SERVER span beneath it.
 *
 * Manual instead of @opentelemetry/instrumentation-grpc, which sees nothing in
 * an ESM process without a loader hook (see STACK.md).
 */
import { InterceptingCall, type Interceptor, type StatusObject } from "@grpc/grpc-js";
import { context, propagation, SpanKind, SpanStatusCode, trace, type Attributes, type Span, type SpanContext } from "@opentelemetry/api";
import { Code, ImeifedError } from "../errors/index.js";
import type { CallContext } from "../rpc/context.js";
import type { ServerInterceptor } from "../rpc/server.js";
import { ERROR_REASON_KEY } from "../rpc/status.js";
import { CALLER, requesterOf } from "../trust/principal.js";
import { metadataGetter, metadataSetter } from "./metadata-carrier.js";
import { metrics } from "./metrics.js";
import { isSpanError, peerAttributes, RPC_ATTRIBUTE, splitMethodPath } from "./rpc-attributes.js";

/** The instrumentation scope name of imeifed's own spans. */
export const TRACER_NAME = "imeifed";

/** Span contexts of calls that failed internally, so the internal-error log line can name the trace. */
const failedCallTraces = new WeakMap<object, SpanContext>();

/** The span context of the call that threw `error` as an internal failure, if any. */
export function traceOfFailure(error: unknown): SpanContext | undefined {
  return typeof error === "object" && error !== null ? failedCallTraces.get(error) : undefined;
}

/** The status a call ended with when its handler returned normally: aborted calls did not succeed. */
function completedCode(ctx: CallContext): Code {
  if (!ctx.signal.aborted) return Code.OK;
  return ctx.deadline !== undefined && Date.now() >= ctx.deadline.getTime() ? Code.DEADLINE_EXCEEDED : Code.CANCELLED;
}

function annotateCaller(span: Span, ctx: CallContext): void {
  const caller = ctx.values.get(CALLER);
  if (!caller) return;
  span.setAttribute(RPC_ATTRIBUTE.callerId, caller.principal.id);
  if (caller.actor) span.setAttribute(RPC_ATTRIBUTE.requesterId, requesterOf(caller).id);
}

/**
 * A server interceptor that opens a SERVER span per call, continuing the
 * caller's trace from its metadata, and runs the handler (and the
 * interceptors after it) inside that span. Put it first:
 * `interceptors: [serverTracing(), authenticator, ...]`, so refused calls
 * are traced too. It also records `rpc.server.duration` and, for calls
 * refused with UNAUTHENTICATED or PERMISSION_DENIED, `imeifed.auth.failures`.
 */
export function serverTracing(): ServerInterceptor {
  return async (ctx, next) => {
    const started = performance.now();
    const parent = propagation.extract(context.active(), ctx.requestMetadata, metadataGetter);
    const attributes: Attributes = {
      [RPC_ATTRIBUTE.system]: "grpc",
      [RPC_ATTRIBUTE.service]: ctx.service,
      [RPC_ATTRIBUTE.method]: ctx.method,
      ...peerAttributes(ctx.peer, "server"),
    };
    const span = trace.getTracer(TRACER_NAME).startSpan(`${ctx.service}/${ctx.method}`, { kind: SpanKind.SERVER, attributes }, parent);
    let code = Code.OK;
    let message: string | undefined;
    try {
      await context.with(trace.setSpan(parent, span), next);
      code = completedCode(ctx);
    } catch (error) {
      const failure = ImeifedError.from(error);
      code = failure.code;
      message = failure.message;
      span.setAttribute(RPC_ATTRIBUTE.errorReason, failure.reason);
      // Every refusal passes here, whichever interceptor or handler refused, so
      // the authenticator needs no metrics code of its own.
      if (failure.code === Code.UNAUTHENTICATED || failure.code === Code.PERMISSION_DENIED) metrics.authFailure(failure.reason);
      if (!(error instanceof ImeifedError) && failure.code === Code.INTERNAL) {
        // The caller sees only "internal error"; the operator's trace keeps the cause.
        span.recordException(error instanceof Error ? error : String(error));
        if (typeof error === "object" && error !== null) failedCallTraces.set(error, span.spanContext());
      }
      throw error;
    } finally {
      annotateCaller(span, ctx);
      span.setAttribute(RPC_ATTRIBUTE.statusCode, code);
      if (isSpanError(code, "server")) span.setStatus({ code: SpanStatusCode.ERROR, message: message ?? Code[code] ?? String(code) });
      span.end();
      metrics.rpcServer(ctx.service, ctx.method, code, performance.now() - started);
    }
  };
}

function finishClientSpan(span: Span, status: StatusObject, peer: string): void {
  span.setAttributes(peerAttributes(peer, "client"));
  span.setAttribute(RPC_ATTRIBUTE.statusCode, status.code);
  if (status.code !== (Code.OK as number)) {
    const reason = status.metadata?.get(ERROR_REASON_KEY)[0];
    if (typeof reason === "string") span.setAttribute(RPC_ATTRIBUTE.errorReason, reason);
  }
  if (isSpanError(status.code as number as Code, "client")) span.setStatus({ code: SpanStatusCode.ERROR, message: status.details });
  span.end();
}

/**
 * A grpc-js client interceptor that opens a CLIENT span per outgoing call, as
 * a child of the active span (the handler's SERVER span when called from a
 * handler), and writes its trace context into the call's metadata:
 * `createClient(RegistryService, address, { interceptors: [clientTracing()] })`.
 */
export function clientTracing(): Interceptor {
  return (options, nextCall) => {
    const { service, method } = splitMethodPath(options.method_definition.path);
    const parent = context.active();
    const span = trace.getTracer(TRACER_NAME).startSpan(
      `${service}/${method}`,
      { kind: SpanKind.CLIENT, attributes: { [RPC_ATTRIBUTE.system]: "grpc", [RPC_ATTRIBUTE.service]: service, [RPC_ATTRIBUTE.method]: method } },
      parent,
    );
    const started = performance.now();
    const call: InterceptingCall = new InterceptingCall(nextCall(options), {
      start(metadata, _listener, next) {
        propagation.inject(trace.setSpan(parent, span), metadata, metadataSetter);
        next(metadata, {
          onReceiveStatus(status, nextStatus) {
            finishClientSpan(span, status, call.getPeer());
            metrics.rpcClient(service, method, status.code, performance.now() - started);
            nextStatus(status);
          },
        });
      },
    });
    return call;
  };
}
