/**
 * How one call to an upstream (a registry's CheckDevices, a hub's Lookup)
 * ended, in the one shape both paths and the hub link read: its answer and
 * when it came, or the error that fails every device of the call.
 */
import { create } from "@bufbuild/protobuf";
import { Code, ImeifedError } from "../../errors/index.js";
import { UnansweredReason, UnansweredSchema, type Unanswered } from "../../gen/imeifed/v1/federation_pb.js";

export type UpstreamOutcome<A> = { ok: true; answer: A; answeredAt: number } | { ok: false; error: ImeifedError };

/** Awaits `send` as an outcome; never rejects. */
export async function outcomeOf<A>(send: () => Promise<A>): Promise<UpstreamOutcome<A>> {
  try {
    const answer = await send();
    return { ok: true, answer, answeredAt: Date.now() };
  } catch (thrown: unknown) {
    return { ok: false, error: ImeifedError.from(thrown) };
  }
}

/** Maps an upstream failure to why the registry counts as unanswered. */
export function unansweredReasonOf(error: ImeifedError): UnansweredReason {
  if (error.reason === "CIRCUIT_OPEN") return UnansweredReason.CIRCUIT_OPEN;
  switch (error.code) {
    case Code.DEADLINE_EXCEEDED:
      return UnansweredReason.DEADLINE;
    case Code.PERMISSION_DENIED:
      return UnansweredReason.REFUSED;
    default:
      return UnansweredReason.UNAVAILABLE;
  }
}

/** `country` did not answer because of `error`; `detail` defaults to the error's message. */
export function unansweredOf(country: string, error: ImeifedError, detail = error.message): Unanswered {
  return create(UnansweredSchema, { country, reason: unansweredReasonOf(error), detail });
}
