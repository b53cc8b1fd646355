/**
 * Serves protobuf-es services on grpc-js. Every handler is wrapped so that
 * whatever it throws reaches the caller as a status (never an unhandled
 * rejection, never a hung call), and so that interceptors (authentication,
 * quotas, tracing, audit) run around every call in one place.
 */
import { once } from "node:events";
import {
  Metadata,
  type sendUnaryData,
  type ServerDuplexStream,
  type ServerReadableStream,
  type ServerUnaryCall,
  type ServerWritableStream,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import type { DescMessage, DescService, MessageShape } from "@bufbuild/protobuf";
import { ContextValues, type CallContext } from "./context.js";
import type { ServiceImpl } from "./handler-types.js";
import { toStatus } from "./status.js";
import { receivedRequest } from "./request-decoding.js";
import { Code, ImeifedError } from "../errors/index.js";

/**
 * Runs around a call: it may refuse it (throw), attach values to the context,
 * or observe it. `next` settles when the handler has finished (for streams,
 * when the last response was written).
 */
export type ServerInterceptor = (ctx: CallContext, next: () => Promise<void>) => Promise<void>;

type AnyCall =
  | ServerUnaryCall<unknown, unknown>
  | ServerReadableStream<unknown, unknown>
  | ServerWritableStream<unknown, unknown>
  | ServerDuplexStream<unknown, unknown>;

/**
 * Since when a stream has waited for its caller (read by `awaitingCallerSince`):
 * `readRequests` for the caller's next message, `writeAll` for the caller to
 * read what was sent (the transport to drain).
 */
interface CallerWait {
  reading: number | undefined;
  writing: number | undefined;
}

/** The earlier of the two waits, if any. */
function waitingSince(wait: CallerWait): number | undefined {
  if (wait.reading === undefined) return wait.writing;
  return wait.writing === undefined ? wait.reading : Math.min(wait.reading, wait.writing);
}

function createContext(service: DescService, methodName: string, kind: CallContext["methodKind"], call: AnyCall): { ctx: CallContext; done: () => void; wait: CallerWait } {
  const controller = new AbortController();
  const rawDeadline = call.getDeadline();
  const deadlineMs = rawDeadline instanceof Date ? rawDeadline.getTime() : rawDeadline;
  const deadline = Number.isFinite(deadlineMs) ? new Date(deadlineMs) : undefined;
  // grpc-js emits "cancelled" when a call's stream closes, also after a normal answer: only a call
  // still running is aborted (an abort costs a DOMException and wakes every listener).
  let finished = false;
  const abort = (why: string) => {
    if (!finished && !controller.signal.aborted) controller.abort(new DOMException(why, "AbortError"));
  };
  const onCancelled = () => abort("the caller cancelled the call");
  const events = call as unknown as NodeJS.EventEmitter;
  events.on("cancelled", onCancelled);
  const timer = deadline ? setTimeout(() => abort("the deadline passed"), Math.max(0, deadline.getTime() - Date.now())) : undefined;
  timer?.unref();
  const wait: CallerWait = { reading: undefined, writing: undefined };
  const ctx: CallContext = {
    service: service.typeName,
    method: methodName,
    methodKind: kind,
    requestMetadata: call.metadata,
    responseTrailer: new Metadata(),
    deadline,
    signal: controller.signal,
    peer: call.getPeer(),
    values: new ContextValues(),
    awaitingCallerSince: () => waitingSince(wait),
    abort: (error) => {
      if (!finished && !controller.signal.aborted) controller.abort(error);
    },
  };
  return {
    ctx,
    wait,
    done: () => {
      finished = true;
      clearTimeout(timer);
      events.off("cancelled", onCancelled);
    },
  };
}

/** Runs `run` inside the interceptor chain. */
function intercept(interceptors: readonly ServerInterceptor[], ctx: CallContext, run: () => Promise<void>): Promise<void> {
  const step = (i: number): Promise<void> => {
    const interceptor = interceptors[i];
    return interceptor ? interceptor(ctx, () => step(i + 1)) : run();
  };
  return step(0);
}

/** The error a call was ended with by `ctx.abort`, if any (a cancelled call or a passed deadline carry none). */
function abortedWith(signal: AbortSignal): ImeifedError | undefined {
  return signal.aborted && signal.reason instanceof ImeifedError ? signal.reason : undefined;
}

/** What a call that failed, or was ended by `ctx.abort`, tells its caller: the abort's error wins over what the handler threw after it. */
function failureOf(ctx: CallContext, error: unknown): unknown {
  return abortedWith(ctx.signal) ?? error;
}

/** Sends a unary (or client-streaming) call's answer, or the error `ctx.abort` ended the call with. */
function reply(ctx: CallContext, where: string, callback: sendUnaryData<unknown>, response: unknown): void {
  const ended = abortedWith(ctx.signal);
  if (ended) callback(toStatus(ended, where, ctx.responseTrailer));
  else callback(null, response, ctx.responseTrailer);
}

/**
 * Writes each response, waiting for the transport to drain (back-pressure).
 * Stops as soon as the call is aborted, even while the handler is waiting for
 * something to send (a stream's handler may wait on its caller's next
 * question), and a call ended by `ctx.abort` fails with its error.
 */
async function writeAll(call: ServerWritableStream<unknown, unknown> | ServerDuplexStream<unknown, unknown>, responses: AsyncIterable<unknown>, signal: AbortSignal, wait: CallerWait): Promise<void> {
  const iterator = responses[Symbol.asyncIterator]();
  // One listener for the whole call, removed at the end: a long stream must not pile them up.
  let onAbort: () => void = () => undefined;
  const aborted = new Promise<undefined>((resolve) => (onAbort = () => resolve(undefined)));
  signal.addEventListener("abort", onAbort, { once: true });
  try {
    for (;;) {
      if (signal.aborted) break;
      const next = await Promise.race([iterator.next(), aborted]);
      // Not awaited (finally, below): a handler stopped mid-wait finishes on its own (its waits watch the signal too).
      if (next === undefined || signal.aborted) break;
      if (next.done) break;
      if (!call.write(next.value)) {
        const settled = new AbortController();
        wait.writing = Date.now();
        try {
          await Promise.race([once(call, "drain", { signal: settled.signal }), aborted]);
        } finally {
          wait.writing = undefined;
          settled.abort();
        }
      }
    }
  } finally {
    signal.removeEventListener("abort", onAbort);
    // Closes a handler left suspended at a yield (the call aborted while its last response waited for drain),
    // so its finally blocks run; harmless on a handler that already finished. Not awaited, as above.
    void Promise.resolve(iterator.return?.()).catch(() => undefined);
  }
  const ended = abortedWith(signal);
  if (ended) throw ended;
}

/**
 * The request side of a client or bidi stream. destroyOnReturn: false keeps
 * the response side open when the handler stops reading requests (see
 * STACK.md's traps). A stream closed under the reader (the caller went away,
 * the server shut down) is CANCELLED, not an internal error.
 */
async function* readRequests(call: ServerReadableStream<unknown, unknown> | ServerDuplexStream<unknown, unknown>, wait: CallerWait): AsyncIterable<never> {
  // Not returned when the handler stops early: Node's stream iterator destroys, when returned, a stream
  // that has emitted an error, and grpc-js sends a call's status by emitting one on the call (a stream
  // ended by `ctx.abort` while answers wait for the caller to read them would lose both). Its listeners
  // go with the call.
  const requests = call.iterator({ destroyOnReturn: false });
  try {
    for (;;) {
      // Waiting only between asking for a message and getting it: while the handler works on one, the caller is not awaited.
      wait.reading = Date.now();
      const next = await requests.next();
      wait.reading = undefined;
      if (next.done) return;
      // A message refused as it was decoded ends the stream with its error (request-decoding.ts).
      yield receivedRequest(next.value) as never;
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException)?.code === "ERR_STREAM_PREMATURE_CLOSE") {
      throw new ImeifedError(Code.CANCELLED, "CANCELLED", "the request stream closed before it ended", { cause: error });
    }
    throw error;
  } finally {
    wait.reading = undefined;
  }
}

/** Implements one protobuf-es service for grpc-js. */
export function implementService<S extends DescService>(
  service: S,
  impl: ServiceImpl<S>,
  interceptors: readonly ServerInterceptor[] = [],
): UntypedServiceImplementation {
  const handlers: UntypedServiceImplementation = {};
  for (const method of service.methods) {
    const handler = (impl as Record<string, unknown>)[method.localName] as (...args: unknown[]) => unknown;
    if (typeof handler !== "function") throw new Error(`${service.typeName} has no handler for ${method.name}`);
    const where = `${service.typeName}/${method.name}`;
    const fn = handler.bind(impl);
    switch (method.methodKind) {
      case "unary":
        handlers[method.name] = (call: ServerUnaryCall<MessageShape<DescMessage>, unknown>, callback: sendUnaryData<unknown>) => {
          const { ctx, done } = createContext(service, method.name, "unary", call);
          let response: unknown;
          intercept(interceptors, ctx, async () => {
            response = await fn(receivedRequest(call.request), ctx);
          }).then(
            () => reply(ctx, where, callback, response),
            (error: unknown) => callback(toStatus(failureOf(ctx, error), where, ctx.responseTrailer)),
          ).finally(done);
        };
        break;
      case "server_streaming":
        handlers[method.name] = (call: ServerWritableStream<unknown, unknown>) => {
          const { ctx, done, wait } = createContext(service, method.name, "server_streaming", call);
          intercept(interceptors, ctx, async () => writeAll(call, fn(receivedRequest(call.request), ctx) as AsyncIterable<unknown>, ctx.signal, wait)).then(
            () => call.end(ctx.responseTrailer),
            (error: unknown) => call.emit("error", toStatus(failureOf(ctx, error), where, ctx.responseTrailer)),
          ).finally(done);
        };
        break;
      case "client_streaming":
        handlers[method.name] = (call: ServerReadableStream<unknown, unknown>, callback: sendUnaryData<unknown>) => {
          const { ctx, done, wait } = createContext(service, method.name, "client_streaming", call);
          let response: unknown;
          intercept(interceptors, ctx, async () => {
            response = await fn(readRequests(call, wait), ctx);
          }).then(
            () => reply(ctx, where, callback, response),
            (error: unknown) => callback(toStatus(failureOf(ctx, error), where, ctx.responseTrailer)),
          ).finally(done);
        };
        break;
      case "bidi_streaming":
        handlers[method.name] = (call: ServerDuplexStream<unknown, unknown>) => {
          const { ctx, done, wait } = createContext(service, method.name, "bidi_streaming", call);
          intercept(interceptors, ctx, () => writeAll(call, fn(readRequests(call, wait), ctx) as AsyncIterable<unknown>, ctx.signal, wait)).then(
            () => call.end(ctx.responseTrailer),
            (error: unknown) => call.emit("error", toStatus(failureOf(ctx, error), where, ctx.responseTrailer)),
          ).finally(done);
        };
        break;
    }
  }
  return handlers;
}
