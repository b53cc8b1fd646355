/**
 * What a server makes of a request's bytes (the method's decoder, then the
 * contract's text rule: rpc/request-decoding.ts), as comparable data: the
 * message, "malformed", or the text refusal's reason and message. Tests of a
 * hand-written decoder compare it with protobuf-es's `fromBinary` through it,
 * so a text refusal must be the same error whichever decoder read the bytes.
 */
import type { DescMessage } from "@bufbuild/protobuf";
import { ImeifedError } from "../../errors/index.js";
import { requestDeserializer, RefusedRequest } from "../../rpc/request-decoding.js";

export function admittedRequest<T>(schema: DescMessage, decode: (bytes: Buffer) => unknown, bytes: Buffer, read: (request: T) => unknown = (r) => r): unknown {
  const decoded = requestDeserializer(schema, decode)(bytes);
  if (!(decoded instanceof RefusedRequest)) return read(decoded as T);
  const error = decoded.error;
  if (!(error instanceof ImeifedError)) throw error;
  return error.reason === "MESSAGE_MALFORMED" ? "malformed" : `${error.reason} ${error.message}`;
}
