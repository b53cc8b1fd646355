/**
 * Why bytes are not a Diameter message: a closed list (as jose's error codes
 * are), each mapped to the result code RFC 6733 §7.1 gives a peer for it. The
 * decoder returns these as values and never throws, so garbage from a peer can
 * only ever become an answer or a closed connection, never a crash.
 */
import type { DiameterAvp } from "./message.js";

export const DECODE_PROBLEMS = {
  /** Fewer than 20 bytes: not even a header. */
  HEADER_TRUNCATED: 5015,
  /** Version is not 1: DIAMETER_UNSUPPORTED_VERSION. */
  UNSUPPORTED_VERSION: 5011,
  /** The header's length is below 20, not a multiple of 4, or not the bytes given: DIAMETER_INVALID_MESSAGE_LENGTH. */
  MESSAGE_LENGTH: 5015,
  /** Header bits that contradict each other (E on a request): DIAMETER_INVALID_HDR_BITS. */
  HEADER_BITS: 3008,
  /** An AVP whose length is shorter than its header or runs past its container: DIAMETER_INVALID_AVP_LENGTH. */
  AVP_LENGTH: 5014,
  /** An AVP whose data is not a value of its type (an Unsigned32 not 4 bytes long, invalid UTF-8, ...): DIAMETER_INVALID_AVP_VALUE. */
  AVP_VALUE: 5004,
} as const;

export type DecodeProblem = keyof typeof DECODE_PROBLEMS;

/** A decoding failure: what is wrong, what to answer, and, where one AVP is to blame, that AVP (for Failed-AVP). */
export interface DecodeError {
  readonly problem: DecodeProblem;
  readonly resultCode: number;
  readonly message: string;
  /** The AVP to blame, as far as it could be read (its header, and the data there was). */
  readonly avp?: DiameterAvp;
}

export type Decoded<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly error: DecodeError };

export function decodeError(problem: DecodeProblem, message: string, avp?: DiameterAvp): { ok: false; error: DecodeError } {
  return { ok: false, error: { problem, resultCode: DECODE_PROBLEMS[problem], message, ...(avp ? { avp } : {}) } };
}

export function decoded<T>(value: T): { ok: true; value: T } {
  return { ok: true, value };
}
