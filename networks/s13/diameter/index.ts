/** A small Diameter codec (RFC 6733) with the dictionary of the S13 application (3GPP TS 29.272). */
export * from "./message.js";
export * from "./decode-error.js";
export { decodeHeader, decodeMessage, decodeAvps, encodedAvpLength, type DiameterHeader } from "./decode.js";
export { encodeMessage, encodeAvp, encodeAvps } from "./encode.js";
export * from "./dictionary.js";
export { avpOf, valueOf, findAvp, findAvps, type AvpValues } from "./values.js";
