/**
 * A Diameter message → bytes: one allocation for the whole message, AVPs
 * written in order with zero padding to 4-byte boundaries (RFC 6733 §4).
 */
import { AVP_FLAG, DIAMETER_VERSION, HEADER_FLAG, HEADER_LENGTH, MAX_MESSAGE_LENGTH, avpHeaderLength, padded, type DiameterAvp, type DiameterMessage } from "./message.js";

/** The bytes of one AVP, padding included. */
export function encodeAvp(avp: DiameterAvp): Buffer {
  const out = Buffer.alloc(padded(avpHeaderLength(avp.vendorId) + avp.data.length));
  writeAvp(out, 0, avp);
  return out;
}

/** The bytes of a run of AVPs (a message body, or a Grouped AVP's data). */
export function encodeAvps(avps: readonly DiameterAvp[]): Buffer {
  const out = Buffer.alloc(avps.reduce((n, a) => n + padded(avpHeaderLength(a.vendorId) + a.data.length), 0));
  let offset = 0;
  for (const avp of avps) offset = writeAvp(out, offset, avp);
  return out;
}

/** The bytes of a whole message. Throws RangeError for a message past the 24-bit length (a bug in the caller, never peer input). */
export function encodeMessage(message: DiameterMessage): Buffer {
  const length = HEADER_LENGTH + message.avps.reduce((n, a) => n + padded(avpHeaderLength(a.vendorId) + a.data.length), 0);
  if (length > MAX_MESSAGE_LENGTH) throw new RangeError(`a Diameter message of ${length} bytes exceeds the 24-bit length field`);
  const out = Buffer.alloc(length);
  out.writeUInt8(DIAMETER_VERSION, 0);
  out.writeUIntBE(length, 1, 3);
  out.writeUInt8(
    (message.request ? HEADER_FLAG.request : 0) |
      (message.proxiable ? HEADER_FLAG.proxiable : 0) |
      (message.error ? HEADER_FLAG.error : 0) |
      (message.retransmitted ? HEADER_FLAG.retransmitted : 0),
    4,
  );
  out.writeUIntBE(message.commandCode, 5, 3);
  out.writeUInt32BE(message.applicationId >>> 0, 8);
  out.writeUInt32BE(message.hopByHop >>> 0, 12);
  out.writeUInt32BE(message.endToEnd >>> 0, 16);
  let offset = HEADER_LENGTH;
  for (const avp of message.avps) offset = writeAvp(out, offset, avp);
  return out;
}

function writeAvp(out: Buffer, offset: number, avp: DiameterAvp): number {
  const headerLength = avpHeaderLength(avp.vendorId);
  const length = headerLength + avp.data.length;
  if (length > MAX_MESSAGE_LENGTH) throw new RangeError(`AVP ${avp.code} of ${length} bytes exceeds the 24-bit length field`);
  out.writeUInt32BE(avp.code >>> 0, offset);
  out.writeUInt8((avp.vendorId !== 0 ? AVP_FLAG.vendor : 0) | (avp.mandatory ? AVP_FLAG.mandatory : 0) | (avp.protected ? AVP_FLAG.protected : 0), offset + 4);
  out.writeUIntBE(length, offset + 5, 3);
  if (avp.vendorId !== 0) out.writeUInt32BE(avp.vendorId >>> 0, offset + 8);
  avp.data.copy(out, offset + headerLength);
  // Buffer.alloc zero-fills, so the padding bytes are already 0.
  return offset + padded(length);
}
