/**
 * The server side of CheckDevicesStream, apart from what a batch means: reads
 * id-tagged batch questions, answers each as soon as it is answered (so
 * answers may overtake one another), and turns a failed batch into an error
 * message for its id instead of ending the stream.
 *
 * Back-pressure: at most `maxPending` batches are being answered or waiting
 * to be written; the next question is read only when one of them has been
 * taken by the transport, so a caller that sends faster than the registry
 * answers is held back by HTTP/2 flow control, not by this process's memory.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { CheckDevicesRequest, CheckDevicesResponseSchema, CheckDevicesStreamRequest, CheckDevicesStreamResponseSchema } from "../../gen/imeifed/v1/registry_pb.js";
import { AsyncQueue } from "../../rpc/async-queue.js";
import { toMessageError } from "../../rpc/index.js";

export type CheckDevicesStreamResponseInit = MessageInitShape<typeof CheckDevicesStreamResponseSchema>;
export type CheckDevicesResponseInit = MessageInitShape<typeof CheckDevicesResponseSchema>;

/** Answers one batch (`message` carries it, with its id and trace context), or throws what CheckDevices would fail with. */
export type BatchAnswerer = (batch: CheckDevicesRequest, message: CheckDevicesStreamRequest) => Promise<CheckDevicesResponseInit>;

export interface BatchStreamOptions {
  /** Batches answered or waiting to be written at once (default 64). */
  maxPending?: number;
  /**
   * Checked before each question is taken; a throw ends the whole stream with
   * that error (the token expired, the server is shutting down). Batches
   * already taken are still answered.
   */
  admit?: () => void;
  /** Where an internal error is reported from (the method path). */
  where?: string;
}

const EMPTY_BATCH = { imeis: [], purpose: "" } as unknown as CheckDevicesRequest;

export async function* answerBatches(
  requests: AsyncIterable<CheckDevicesStreamRequest>,
  answer: BatchAnswerer,
  options: BatchStreamOptions = {},
): AsyncIterable<CheckDevicesStreamResponseInit> {
  const maxPending = options.maxPending ?? 64;
  const where = options.where ?? "CheckDevicesStream";
  const answers = new AsyncQueue<CheckDevicesStreamResponseInit>();
  let pending = 0;
  let readingDone = false;
  let slotFreed: (() => void) | undefined;
  const finishIfDone = () => {
    if (readingDone && pending === 0) answers.end();
  };

  const answerOne = async (request: CheckDevicesStreamRequest): Promise<void> => {
    let response: CheckDevicesStreamResponseInit;
    try {
      response = { id: request.id, result: { case: "checks", value: await answer(request.batch ?? EMPTY_BATCH, request) } };
    } catch (error) {
      response = { id: request.id, result: { case: "error", value: toMessageError(error, where) } };
    }
    answers.push(response);
  };

  const read = async (): Promise<void> => {
    try {
      for await (const request of requests) {
        options.admit?.();
        pending++;
        void answerOne(request);
        if (pending >= maxPending) await new Promise<void>((resolve) => (slotFreed = resolve));
      }
      readingDone = true;
      finishIfDone();
    } catch (error) {
      answers.fail(error);
    }
  };
  void read();

  for await (const response of answers) {
    yield response;
    // The transport took it: its slot is free.
    pending--;
    const wake = slotFreed;
    slotFreed = undefined;
    wake?.();
    finishIfDone();
  }
}
