/**
 * A Diameter message as RFC 6733 §3 and §4 lay it out, in plain values: the
 * codec turns bytes into these and back, and nothing above it sees offsets.
 */

/** Every Diameter message starts with this many bytes of header (RFC 6733 §3). */
export const HEADER_LENGTH = 20;
/** The only protocol version RFC 6733 defines. */
export const DIAMETER_VERSION = 1;
/** The message length is a 24-bit field, so no message can be longer. */
export const MAX_MESSAGE_LENGTH = 0xff_ffff;

/** One AVP: its code, vendor (0 when the V bit is clear), M and P flags, and its data without padding. */
export interface DiameterAvp {
  readonly code: number;
  /** 0 for an IETF AVP (V bit clear); otherwise the IANA enterprise number (10415 is 3GPP). */
  readonly vendorId: number;
  readonly mandatory: boolean;
  readonly protected: boolean;
  readonly data: Buffer;
}

/** A whole message: header fields and its top-level AVPs in wire order. */
export interface DiameterMessage {
  /** R: a request (set) or an answer (clear). */
  readonly request: boolean;
  /** P: may be proxied, relayed or redirected. */
  readonly proxiable: boolean;
  /** E: an answer carrying a protocol error (3xxx); never set on a request. */
  readonly error: boolean;
  /** T: possibly a retransmission after a link failover. */
  readonly retransmitted: boolean;
  readonly commandCode: number;
  readonly applicationId: number;
  /** Matches an answer to its request on one connection; an answer echoes it. */
  readonly hopByHop: number;
  /** Detects duplicates end to end; an answer echoes it. */
  readonly endToEnd: number;
  readonly avps: readonly DiameterAvp[];
}

/** Header flag bits (RFC 6733 §3); the low four bits are reserved, sent as 0 and ignored. */
export const HEADER_FLAG = { request: 0x80, proxiable: 0x40, error: 0x20, retransmitted: 0x10 } as const;
/** AVP flag bits (RFC 6733 §4.1); the low five bits are reserved, sent as 0 and ignored. */
export const AVP_FLAG = { vendor: 0x80, mandatory: 0x40, protected: 0x20 } as const;

/** The length of an AVP's header: 8 bytes, 12 with a Vendor-Id. */
export function avpHeaderLength(vendorId: number): number {
  return vendorId === 0 ? 8 : 12;
}

/** AVP data is padded with zeros to a multiple of 4 bytes; the AVP length field excludes the padding. */
export function padded(length: number): number {
  return (length + 3) & ~3;
}
