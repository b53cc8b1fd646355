/**
 * Cuts a TCP byte stream into whole Diameter messages. A message's length is
 * in its header, so a header that is not Diameter, a length that is not a
 * message length, or a message over the size limit leaves no way to find the
 * next message: the framer reports the stream broken, and the connection is
 * closed (only that one). It never holds more than one message's bytes.
 */
import { decodeHeader, HEADER_LENGTH, type DecodeError } from "./diameter/index.js";

/** Why a stream cannot be framed: a header problem, or a message over the limit. */
export type FramingError = DecodeError | { readonly problem: "MESSAGE_TOO_LARGE"; readonly resultCode: 5015; readonly message: string };

export type FramedChunk = { readonly messages: Buffer[]; readonly broken?: FramingError };

export class MessageFramer {
  private pending: Buffer = Buffer.alloc(0);
  private isBroken = false;

  constructor(private readonly maxMessageBytes: number) {}

  /** Whole messages completed by `chunk`, in order; after `broken` the framer takes nothing more. */
  push(chunk: Buffer): FramedChunk {
    if (this.isBroken) return { messages: [] };
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const messages: Buffer[] = [];
    let offset = 0;
    while (this.pending.length - offset >= HEADER_LENGTH) {
      const header = decodeHeader(this.pending.subarray(offset, offset + HEADER_LENGTH));
      if (!header.ok) return this.break(messages, header.error);
      const { length } = header.value;
      if (length > this.maxMessageBytes) {
        return this.break(messages, { problem: "MESSAGE_TOO_LARGE", resultCode: 5015, message: `a message of ${length} bytes is over this peer's limit of ${this.maxMessageBytes}` });
      }
      if (this.pending.length - offset < length) break;
      // A copy, so a message held by a slow request does not pin the whole read buffer.
      messages.push(Buffer.from(this.pending.subarray(offset, offset + length)));
      offset += length;
    }
    this.pending = offset === this.pending.length ? Buffer.alloc(0) : Buffer.from(this.pending.subarray(offset));
    return { messages };
  }

  /** Bytes of a message begun but not yet whole. */
  get bufferedBytes(): number {
    return this.pending.length;
  }

  private break(messages: Buffer[], broken: FramingError): FramedChunk {
    this.isBroken = true;
    this.pending = Buffer.alloc(0);
    return { messages, broken };
  }
}
