/**
 * Asserting how a call failed: an `ImeifedError` with this gRPC code and a
 * message (or reason) the caller can act on. One home, so every test checks
 * failures the same way.
 */
import assert from "node:assert/strict";
import { Code, ImeifedError } from "../../errors/index.js";

/** Resolves to the `ImeifedError` that `promise` rejects with; fails if it resolves or rejects with anything else. */
export async function rejection(promise: Promise<unknown>): Promise<ImeifedError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ImeifedError, `expected an ImeifedError, got ${String(error)}`);
    return error;
  }
  assert.fail("expected a rejection, but the call succeeded");
}

/**
 * Asserts that `promise` rejects with `code` and, for a RegExp, a matching message or, for a string, exactly that reason.
 * Resolves to the error, for further checks.
 */
export async function rejectsWith(promise: Promise<unknown>, code: Code, expected: RegExp | string): Promise<ImeifedError> {
  const error = await rejection(promise);
  assert.equal(Code[error.code], Code[code], error.message);
  if (typeof expected === "string") assert.equal(error.reason, expected);
  else assert.match(error.message, expected);
  return error;
}
