/**
 * Spans for the messages of a stream whose messages are calls of their own
 * (CheckDevicesStream: each message is one CheckDevices question). The
 * stream's metadata belongs to the stream, opened by whichever lookup came
 * first, so each message carries its asker's trace context itself, and each
 * side opens a span per message: a lookup still reads as one trace, the
 * gateway's CLIENT span per registry with that registry's SERVER span under it.
 *
 * Without an OpenTelemetry SDK these are the API's no-op spans and the trace
 * context stays empty, so an untraced process pays next to nothing.
 */
import { context, propagation, SpanKind, SpanStatusCode, trace, type Attributes } from "@opentelemetry/api";
import { Code, ImeifedError } from "../errors/index.js";
import type { CallContext } from "../rpc/context.js";
import { CALLER, requesterOf } from "../trust/principal.js";
import { metrics } from "./metrics.js";
import { isSpanError, peerAttributes, RPC_ATTRIBUTE } from "./rpc-attributes.js";
import { TRACER_NAME } from "./rpc-tracing.js";

/** The gateway side of one message: the trace context to send with it, and how its span ends. */
export interface MessageClientSpan {
  readonly traceContext: Record<string, string>;
  end(error?: ImeifedError): void;
}

/** Opens the CLIENT span of one message to `serverAddress`, under the active span (the asker's). */
export function startMessageClientSpan(service: string, method: string, serverAddress: string): MessageClientSpan {
  const parent = context.active();
  const attributes: Attributes = { [RPC_ATTRIBUTE.system]: "grpc", [RPC_ATTRIBUTE.service]: service, [RPC_ATTRIBUTE.method]: method, ...peerAttributes(serverAddress, "client") };
  const span = trace.getTracer(TRACER_NAME).startSpan(`${service}/${method}`, { kind: SpanKind.CLIENT, attributes }, parent);
  const traceContext: Record<string, string> = {};
  propagation.inject(trace.setSpan(parent, span), traceContext);
  const started = performance.now();
  return {
    traceContext,
    end(error) {
      const code = error?.code ?? Code.OK;
      span.setAttribute(RPC_ATTRIBUTE.statusCode, code);
      if (error) span.setAttribute(RPC_ATTRIBUTE.errorReason, error.reason);
      if (isSpanError(code, "client")) span.setStatus({ code: SpanStatusCode.ERROR, message: error?.message ?? Code[code] });
      span.end();
      metrics.rpcClient(service, method, code, performance.now() - started);
    },
  };
}

/** Runs the answer to one message inside a SERVER span continuing the asker's trace from the message's trace context. */
export async function tracedMessage<T>(ctx: CallContext, traceContext: Readonly<Record<string, string>>, run: () => Promise<T>): Promise<T> {
  const started = performance.now();
  const parent = propagation.extract(context.active(), traceContext);
  const attributes: Attributes = { [RPC_ATTRIBUTE.system]: "grpc", [RPC_ATTRIBUTE.service]: ctx.service, [RPC_ATTRIBUTE.method]: ctx.method, ...peerAttributes(ctx.peer, "server") };
  const caller = ctx.values.get(CALLER);
  if (caller) {
    attributes[RPC_ATTRIBUTE.callerId] = caller.principal.id;
    if (caller.actor) attributes[RPC_ATTRIBUTE.requesterId] = requesterOf(caller).id;
  }
  const span = trace.getTracer(TRACER_NAME).startSpan(`${ctx.service}/${ctx.method}`, { kind: SpanKind.SERVER, attributes }, parent);
  let failure: ImeifedError | undefined;
  try {
    return await context.with(trace.setSpan(parent, span), run);
  } catch (error) {
    failure = ImeifedError.from(error);
    span.setAttribute(RPC_ATTRIBUTE.errorReason, failure.reason);
    throw error;
  } finally {
    const code = failure?.code ?? Code.OK;
    span.setAttribute(RPC_ATTRIBUTE.statusCode, code);
    if (isSpanError(code, "server")) span.setStatus({ code: SpanStatusCode.ERROR, message: failure?.message ?? Code[code] });
    span.end();
    metrics.rpcServer(ctx.service, ctx.method, code, performance.now() - started);
  }
}
