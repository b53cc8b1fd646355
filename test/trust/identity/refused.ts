/** Asserts that a call fails with an exact gRPC code, stable reason and (part of) its message. */
import assert from "node:assert/strict";
import { Code, ImeifedError } from "../../../errors/index.js";

export async function refused(call: Promise<unknown>, code: Code, reason: string, message?: string | RegExp): Promise<ImeifedError> {
  let error: unknown;
  try {
    await call;
  } catch (thrown) {
    error = thrown;
  }
  assert.ok(error instanceof ImeifedError, `expected the call to fail with ${Code[code]} ${reason}, got ${error === undefined ? "success" : String(error)}`);
  assert.equal(Code[error.code], Code[code], `code (message: ${error.message})`);
  assert.equal(error.reason, reason, `reason (message: ${error.message})`);
  if (typeof message === "string") assert.ok(error.message.includes(message), `message ${JSON.stringify(error.message)} should include ${JSON.stringify(message)}`);
  else if (message) assert.match(error.message, message);
  return error;
}
