/**
 * Where a request enters: its bytes become the message a handler receives,
 * or the INVALID_ARGUMENT it is answered with. Bytes that are not a message
 * of the method's type, and text that breaks the contract's rule
 * (contract/request-text.ts), are the caller's to fix.
 *
 * Why a value and not a throw: grpc-js answers a deserializer's throw itself,
 * with INTERNAL and a fixed message, before any handler or interceptor runs.
 * So the deserializer returns a `RefusedRequest`, and the server adapter
 * (server.ts) throws its error where the handler would have received the
 * request: after authentication (an unknown caller hears UNAUTHENTICATED,
 * not how its bytes were wrong), audited and counted like any refused call.
 */
import type { DescMessage } from "@bufbuild/protobuf";
import { Code, ImeifedError } from "../errors/index.js";
import { requestTextCheck } from "../contract/index.js";

/** A request the server will not hand to its handler, and what the call ends with instead (an ImeifedError; anything else is a bug, answered INTERNAL and logged). */
export class RefusedRequest {
  constructor(readonly error: unknown) {}
}

/** The error of bytes that do not decode as `schema`; `cause` is the decoder's own account. */
function notAMessage(schema: DescMessage, cause: unknown): ImeifedError {
  const detail = cause instanceof Error ? `: ${cause.message.slice(0, 80)}` : "";
  return new ImeifedError(
    Code.INVALID_ARGUMENT,
    "MESSAGE_MALFORMED",
    `the request body is not a valid ${schema.typeName} message${detail}; send the method's request message in protobuf binary encoding`,
    { cause },
  );
}

/**
 * The deserializer of a method's requests: `decode` (protobuf-es's, or a
 * hand-written one, which may itself throw the text rule's ImeifedError),
 * then the text rule; anything refused becomes a RefusedRequest.
 */
export function requestDeserializer(schema: DescMessage, decode: (bytes: Buffer) => unknown): (bytes: Buffer) => unknown {
  const checkText = requestTextCheck(schema);
  return (bytes) => {
    let message: unknown;
    try {
      message = decode(bytes);
    } catch (error) {
      return new RefusedRequest(error instanceof ImeifedError ? error : notAMessage(schema, error));
    }
    try {
      checkText(message);
    } catch (error) {
      return new RefusedRequest(error);
    }
    return message;
  };
}

/** The request a handler receives; throws the error of a refused one. */
export function receivedRequest<T>(request: T | RefusedRequest): T {
  if (request instanceof RefusedRequest) throw request.error;
  return request;
}
