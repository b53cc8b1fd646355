/**
 * Bytes → a Diameter message. Every read is bounds-checked against the
 * container it sits in (the message, or a Grouped AVP's data), so a length
 * that lies is a typed DecodeError and never a read past the end; AVP data
 * is a view on the input, not a copy.
 */
import { decodeError, decoded, type Decoded } from "./decode-error.js";
import { AVP_FLAG, DIAMETER_VERSION, HEADER_FLAG, HEADER_LENGTH, avpHeaderLength, padded, type DiameterAvp, type DiameterMessage } from "./message.js";

/** What the first 20 bytes say: enough for a framer to know how many bytes the message takes. */
export interface DiameterHeader {
  readonly version: number;
  readonly length: number;
  readonly flags: number;
  readonly commandCode: number;
  readonly applicationId: number;
  readonly hopByHop: number;
  readonly endToEnd: number;
}

/** Reads a header and checks what can be checked without the body: version, and a length that can frame a message. */
export function decodeHeader(bytes: Buffer): Decoded<DiameterHeader> {
  if (bytes.length < HEADER_LENGTH) return decodeError("HEADER_TRUNCATED", `a Diameter header is ${HEADER_LENGTH} bytes; got ${bytes.length}`);
  const version = bytes.readUInt8(0);
  const length = bytes.readUIntBE(1, 3);
  if (version !== DIAMETER_VERSION) return decodeError("UNSUPPORTED_VERSION", `version ${version} is not Diameter version 1`);
  if (length < HEADER_LENGTH || length % 4 !== 0) return decodeError("MESSAGE_LENGTH", `message length ${length} is below ${HEADER_LENGTH} or not a multiple of 4`);
  return decoded({
    version,
    length,
    flags: bytes.readUInt8(4),
    commandCode: bytes.readUIntBE(5, 3),
    applicationId: bytes.readUInt32BE(8),
    hopByHop: bytes.readUInt32BE(12),
    endToEnd: bytes.readUInt32BE(16),
  });
}

/** Decodes exactly one whole message: `bytes` must be the message, no more and no less. */
export function decodeMessage(bytes: Buffer): Decoded<DiameterMessage> {
  const header = decodeHeader(bytes);
  if (!header.ok) return header;
  const { length, flags } = header.value;
  if (length !== bytes.length) return decodeError("MESSAGE_LENGTH", `the header says ${length} bytes; the message has ${bytes.length}`);
  const request = (flags & HEADER_FLAG.request) !== 0;
  const error = (flags & HEADER_FLAG.error) !== 0;
  if (request && error) return decodeError("HEADER_BITS", "the E bit is set on a request");
  const avps = decodeAvps(bytes.subarray(HEADER_LENGTH));
  if (!avps.ok) return avps;
  return decoded({
    request,
    proxiable: (flags & HEADER_FLAG.proxiable) !== 0,
    error,
    retransmitted: (flags & HEADER_FLAG.retransmitted) !== 0,
    commandCode: header.value.commandCode,
    applicationId: header.value.applicationId,
    hopByHop: header.value.hopByHop,
    endToEnd: header.value.endToEnd,
    avps: avps.value,
  });
}

/**
 * Decodes a run of AVPs filling `bytes` (a message body or a Grouped AVP's
 * data). The last AVP's padding may be absent (RFC 6733 §4.4 allows a
 * Grouped AVP's length to stop at its last inner AVP's data).
 */
export function decodeAvps(bytes: Buffer): Decoded<DiameterAvp[]> {
  const avps: DiameterAvp[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    if (bytes.length - offset < 8) return decodeError("AVP_LENGTH", `${bytes.length - offset} bytes left where an AVP header (8 bytes) should be`);
    const code = bytes.readUInt32BE(offset);
    const flags = bytes.readUInt8(offset + 4);
    const length = bytes.readUIntBE(offset + 5, 3);
    const hasVendor = (flags & AVP_FLAG.vendor) !== 0;
    const headerLength = hasVendor ? 12 : 8;
    if (hasVendor && bytes.length - offset < 12) return decodeError("AVP_LENGTH", `AVP ${code} has the V bit but no room for its Vendor-Id`);
    const vendorId = hasVendor ? bytes.readUInt32BE(offset + 8) : 0;
    const blame = (data: Buffer): DiameterAvp => ({ code, vendorId, mandatory: (flags & AVP_FLAG.mandatory) !== 0, protected: (flags & AVP_FLAG.protected) !== 0, data });
    if (length < headerLength) return decodeError("AVP_LENGTH", `AVP ${code} says ${length} bytes, shorter than its ${headerLength}-byte header`, blame(Buffer.alloc(0)));
    if (length > bytes.length - offset) {
      return decodeError("AVP_LENGTH", `AVP ${code} says ${length} bytes; only ${bytes.length - offset} are left`, blame(bytes.subarray(offset + headerLength)));
    }
    if (hasVendor && vendorId === 0) return decodeError("AVP_VALUE", `AVP ${code} has the V bit with Vendor-Id 0`, blame(bytes.subarray(offset + headerLength, offset + length)));
    avps.push(blame(bytes.subarray(offset + headerLength, offset + length)));
    offset += Math.min(padded(length), bytes.length - offset);
  }
  return decoded(avps);
}

/** The wire length of an AVP once encoded, padding included (for callers sizing buffers). */
export function encodedAvpLength(avp: Pick<DiameterAvp, "vendorId" | "data">): number {
  return padded(avpHeaderLength(avp.vendorId) + avp.data.length);
}
