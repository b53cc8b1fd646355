/**
 * One CheckDevicesStream to one registry, for one requester: batches go out
 * as id-tagged messages and their answers are matched back by id.
 *
 * Why: a new unary call costs the gateway and the registry each a new HTTP/2
 * stream, headers, authentication and call setup; a message on a stream that
 * is already open costs a small fraction of that. That cost, five registries
 * over, was most of a cache-miss Lookup's latency.
 *
 * The stream carries the token it was opened with, so it serves one requester
 * (the registry applies its sharing policy to the token's `act`) and only
 * while that token is the one the minter hands out: when the minter renews
 * it, the link retires this stream and opens another.
 *
 * Deadlines are the gateway's to keep: each batch has a timer that answers
 * DEADLINE_EXCEEDED and forgets the id (a late answer is dropped). When the
 * stream breaks, every batch waiting on it fails with the stream's error,
 * marked `streamBroken` so the link may retry it as a unary call.
 */
import type { DeviceKey } from "../../device/index.js";
import { Code, ImeifedError } from "../../errors/index.js";
import type { CheckDevicesStreamRequestSchema, CheckDevicesStreamResponse, DeviceCheck, RegistryService } from "../../gen/imeifed/v1/registry_pb.js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { AsyncQueue } from "../../rpc/async-queue.js";
import { fromMessageError, type Client } from "../../rpc/index.js";
import { context, ROOT_CONTEXT } from "@opentelemetry/api";
import { startMessageClientSpan } from "../../observability/message-tracing.js";

const SERVICE = "imeifed.v1.RegistryService";
const METHOD = "CheckDevicesStream";

type StreamRequestInit = MessageInitShape<typeof CheckDevicesStreamRequestSchema>;

interface Waiting {
  resolve(checks: DeviceCheck[]): void;
  reject(error: ImeifedError): void;
  timer: NodeJS.Timeout;
}

/** The error a batch fails with when its stream broke under it (not the registry's answer to it). */
export class StreamBrokenError extends ImeifedError {
  readonly streamBroken = true;
}

export function isStreamBroken(error: unknown): error is StreamBrokenError {
  return error instanceof ImeifedError && (error as Partial<StreamBrokenError>).streamBroken === true;
}

export class CheckStream {
  /** The bearer token the stream was opened with. */
  readonly token: string;
  readonly #requests = new AsyncQueue<StreamRequestInit>();
  readonly #waiting = new Map<bigint, Waiting>();
  #nextId = 1n;
  #closed: ImeifedError | undefined;
  #retired = false;
  readonly #serverAddress: string;
  readonly #now: () => number;
  /** When the stream last carried a batch (for idle retirement), by the clock it was given. */
  lastUsedAt: number;

  /** `serverAddress`: the registry's address, named on each message's span; `now`: the clock `lastUsedAt` is read from. */
  constructor(client: Client<typeof RegistryService>, token: string, serverAddress = "", now: () => number = Date.now) {
    this.token = token;
    this.#now = now;
    this.lastUsedAt = now();
    this.#serverAddress = serverAddress;
    // Opened outside any lookup's trace: the stream outlives the lookup that opened it; each message carries its own asker's trace.
    const responses = context.with(ROOT_CONTEXT, () => client.checkDevicesStream(this.#requests, { metadata: { authorization: `Bearer ${token}` } }));
    void this.#read(responses);
  }

  /** False once the stream broke or was retired: new batches must go elsewhere. */
  get open(): boolean {
    return this.#closed === undefined && !this.#retired;
  }

  /** Batches sent and not yet answered. */
  get waiting(): number {
    return this.#waiting.size;
  }

  /** Asks one batch; resolves to one DeviceCheck per key, in order. */
  check(keys: DeviceKey[], purpose: string, deadline: Date): Promise<DeviceCheck[]> {
    if (!this.open) return Promise.reject(this.#closed ?? broken("the stream was retired"));
    this.lastUsedAt = this.#now();
    const id = this.#nextId++;
    const span = startMessageClientSpan(SERVICE, METHOD, this.#serverAddress);
    return new Promise<DeviceCheck[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(id);
        fail(new ImeifedError(Code.DEADLINE_EXCEEDED, "DEADLINE_EXCEEDED", "the registry did not answer this batch before its deadline"));
      }, Math.max(0, deadline.getTime() - Date.now()));
      const fail = (error: ImeifedError) => {
        span.end(error);
        reject(error);
      };
      const answer = (checks: DeviceCheck[]) => {
        span.end();
        resolve(checks);
      };
      this.#waiting.set(id, { resolve: answer, reject: fail, timer });
      this.#requests.push({ id, batch: { imeis: keys, purpose }, traceContext: span.traceContext });
    });
  }

  /** Takes no new batches; the stream ends once the registry answered those it has. */
  retire(): void {
    if (this.#retired) return;
    this.#retired = true;
    this.#requests.end();
  }

  async #read(responses: AsyncIterable<CheckDevicesStreamResponse>): Promise<void> {
    let ended: ImeifedError;
    try {
      for await (const response of responses) this.#answer(response);
      ended = broken("the registry ended the stream");
    } catch (error) {
      const cause = ImeifedError.from(error);
      ended = new StreamBrokenError(cause.code, cause.reason, cause.message, { cause, ...(cause.retryAfterMs !== undefined ? { retryAfterMs: cause.retryAfterMs } : {}) });
    }
    this.#closed = ended;
    this.#requests.end();
    for (const [id, waiting] of this.#waiting) {
      clearTimeout(waiting.timer);
      waiting.reject(ended);
      this.#waiting.delete(id);
    }
  }

  #answer(response: CheckDevicesStreamResponse): void {
    const waiting = this.#waiting.get(response.id);
    // Unknown ids are answers that came after their deadline: nobody waits for them.
    if (!waiting) return;
    this.#waiting.delete(response.id);
    clearTimeout(waiting.timer);
    const { result } = response;
    if (result.case === "checks") waiting.resolve(result.value.checks);
    else if (result.case === "error") waiting.reject(fromMessageError(result.value));
    else waiting.reject(new ImeifedError(Code.INTERNAL, "EMPTY_ANSWER", "the registry answered a batch with neither checks nor an error"));
  }
}

function broken(message: string): StreamBrokenError {
  return new StreamBrokenError(Code.UNAVAILABLE, "STREAM_ENDED", message);
}
