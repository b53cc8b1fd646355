import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { Code, ImeifedError } from "../../errors/index.js";
import { DeviceStatus } from "../../gen/imeifed/v1/device_pb.js";
import { CheckDevicesResponseSchema } from "../../gen/imeifed/v1/registry_pb.js";
import { bulkAnswerOf } from "../../gateway/federation/bulk-answer.js";

const listed = { deviceKey: "35693803000001", status: DeviceStatus.PROHIBITED };
const response = (init: Parameters<typeof create<typeof CheckDevicesResponseSchema>>[1]) => create(CheckDevicesResponseSchema, init);

function mismatch(run: () => unknown, message: RegExp): void {
  assert.throws(run, (error: unknown) => error instanceof ImeifedError && error.code === Code.UNAVAILABLE && error.reason === "BATCH_MISMATCH" && message.test(error.message));
}

describe("a bulk call's answer (sparse or full)", () => {
  it("reads an answer without the sparse marker as full, one check per device", () => {
    const answer = bulkAnswerOf(response({ checks: [listed, listed] }), 2);
    assert.equal(answer.listedIndexes, undefined);
    assert.equal(answer.checks.length, 2);
    assert.equal(bulkAnswerOf(response({}), 0).listedIndexes, undefined, "an empty full answer to an empty batch");
  });

  it("reads an answer with the marker as sparse, an empty and an all-listed one included", () => {
    const sparse = bulkAnswerOf(response({ checks: [listed], listedIndexes: [3], unlistedCacheMaxAge: { seconds: 60n } }), 5);
    assert.deepEqual(sparse.listedIndexes, [3]);
    assert.equal(sparse.unlistedCacheMaxAge?.seconds, 60n);
    assert.deepEqual(bulkAnswerOf(response({ unlistedCacheMaxAge: {} }), 5).listedIndexes, []);
    assert.deepEqual(bulkAnswerOf(response({ checks: [listed, listed], listedIndexes: [0, 1], unlistedCacheMaxAge: {} }), 2).listedIndexes, [0, 1]);
  });

  it("refuses an answer that does not fit the question, naming what is wrong", () => {
    mismatch(() => bulkAnswerOf(response({ checks: [listed] }), 2), /1 checks for 2 devices/);
    mismatch(() => bulkAnswerOf(response({ checks: [listed, listed], listedIndexes: [0, 1] }), 2), /2 checks for 2 devices/); // positions without the marker
    mismatch(() => bulkAnswerOf(response({ checks: [listed], listedIndexes: [0, 1], unlistedCacheMaxAge: {} }), 2), /1 checks at 2 positions/);
    mismatch(() => bulkAnswerOf(response({ checks: [listed], listedIndexes: [2], unlistedCacheMaxAge: {} }), 2), /position 2 of 2 devices/);
    mismatch(() => bulkAnswerOf(response({ checks: [listed, listed], listedIndexes: [1, 1], unlistedCacheMaxAge: {} }), 2), /position 1 of 2 devices, after 1/);
    mismatch(() => bulkAnswerOf(response({ checks: [listed, listed], listedIndexes: [1, 0], unlistedCacheMaxAge: {} }), 2), /position 0/);
  });
});
