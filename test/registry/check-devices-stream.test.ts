import assert from "node:assert/strict";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ImeifedError } from "../../errors/index.js";
import { DeviceStatus } from "../../gen/imeifed/v1/device_pb.js";
import { RegistryService, type CheckDevicesStreamRequestSchema, type CheckDevicesStreamResponse } from "../../gen/imeifed/v1/registry_pb.js";
import { AsyncQueue } from "../../rpc/async-queue.js";
import { createClient } from "../../rpc/index.js";
import { batchDigest } from "../../trust/audit/index.js";
import { createTestTrust, type TestTrust } from "../support/trust-fixture.js";
import { startTestRegistry, type TestRegistry } from "../support/registry-fixture.js";
import { testDevice } from "./test-imeis.js";

type Question = MessageInitShape<typeof CheckDevicesStreamRequestSchema>;

const A = testDevice(11);
const B = testDevice(12);
const C = testDevice(13);
const CUSTOMS_GB = { id: "customs-gb", kind: "customs", country: "GB" } as const;

/** One open stream: push questions, read answers in arrival order. */
function openStream(responses: AsyncIterable<CheckDevicesStreamResponse>, questions: AsyncQueue<Question>) {
  const reader = responses[Symbol.asyncIterator]();
  return {
    ask: (q: Question) => questions.push(q),
    async next(): Promise<CheckDevicesStreamResponse> {
      const { value, done } = await reader.next();
      assert.ok(!done, "the stream ended");
      return value;
    },
    end: () => questions.end(),
    reader,
  };
}

async function streamError(read: () => Promise<unknown>): Promise<ImeifedError> {
  try {
    for (;;) await read();
  } catch (error) {
    assert.ok(error instanceof ImeifedError, String(error));
    return error;
  }
}

describe("RegistryService.CheckDevicesStream over a real socket (sqlite)", () => {
  let trust: TestTrust;
  let gb: TestRegistry;
  /** How far the registry's clock runs ahead of the machine's (a test moves it instead of sleeping). */
  let clockAheadMs = 0;

  before(async () => {
    trust = await createTestTrust();
    gb = await startTestRegistry({
      country: "GB",
      trust,
      now: () => Date.now() + clockAheadMs,
      config: { batchLimit: 3, sharing: { rules: [{ kind: "customs", withhold: ["reporting_agency"] }, { country: "JP", share: "none" }] } },
      seed: [{ imeis: [A.imei] }],
    });
  });
  after(async () => {
    await gb.cleanup();
    await trust.cleanup();
  });

  it("answers each batch under its id, as CheckDevices would, and audits every batch as its own entry", async () => {
    const client = gb.client("gateway", { act: CUSTOMS_GB });
    const questions = new AsyncQueue<Question>();
    const stream = openStream(client.checkDevicesStream(questions), questions);
    stream.ask({ id: 7n, batch: { imeis: [A.imei, B.imei], purpose: "DEC-7" } });
    stream.ask({ id: 8n, batch: { imeis: [C.imeisv], purpose: "DEC-8" } });
    const answers = new Map<bigint, CheckDevicesStreamResponse>();
    for (let i = 0; i < 2; i++) {
      const answer = await stream.next();
      answers.set(answer.id, answer);
    }
    stream.end();
    assert.equal((await stream.reader.next()).done, true, "the stream ends once the questions end and are answered");

    const seven = answers.get(7n)!.result;
    assert.equal(seven.case, "checks");
    const unary = await client.checkDevices({ imeis: [A.imei, B.imei], purpose: "DEC-7" });
    assert.deepEqual(seven.value, unary, "the same answer as a CheckDevices call");
    assert.equal(seven.value.checks[0]!.status, DeviceStatus.PROHIBITED);
    assert.equal(seven.value.checks[0]!.finding!.reportingAgency, "", "the sharing policy applies to the requester named by act");
    const eight = answers.get(8n)!.result;
    assert.deepEqual(eight.case === "checks" && eight.value.checks.map((c) => [c.deviceKey, c.status]), [[C.key, DeviceStatus.PERMITTED]]);

    const entries = (await gb.registry.audit.query({})).filter((e) => e.method === "CheckDevicesStream");
    assert.deepEqual(
      entries.map((e) => [e.principal, e.actor, e.purpose, e.batchSize, e.batchDigest, e.verdict, e.statusCode]).sort(),
      [
        ["gateway", "customs-gb", "DEC-7", 2, batchDigest([A.key, B.key]), "PROHIBITED:1 PERMITTED:1", Code.OK],
        ["gateway", "customs-gb", "DEC-8", 1, batchDigest([C.key]), "PERMITTED:1", Code.OK],
      ],
    );
  });

  it("answers a bad batch with an error for its id and keeps answering the next ones", async () => {
    const questions = new AsyncQueue<Question>();
    const stream = openStream(gb.client("gateway", { act: CUSTOMS_GB }).checkDevicesStream(questions), questions);
    stream.ask({ id: 1n, batch: { imeis: [A.imei, B.imei, C.imei, A.imei], purpose: "too many" } });
    const tooMany = await stream.next();
    assert.equal(tooMany.id, 1n);
    assert.equal(tooMany.result.case, "error");
    assert.deepEqual(tooMany.result.case === "error" && [Code[tooMany.result.value.code], tooMany.result.value.reason], ["INVALID_ARGUMENT", "BATCH_TOO_LARGE"]);
    stream.ask({ id: 2n, batch: { imeis: [B.imei, "35-209900-176148-2"], purpose: "typo" } });
    const typo = await stream.next();
    assert.equal(typo.result.case === "error" && typo.result.value.reason, "IMEI_CHECK_DIGIT");
    assert.match(typo.result.case === "error" ? typo.result.value.message : "", /imeis\[1\]/, "the message names the item to fix");
    stream.ask({ id: 3n, batch: { imeis: [A.imei], purpose: "fine" } });
    const fine = await stream.next();
    assert.equal(fine.result.case === "checks" && fine.result.value.checks[0]!.status, DeviceStatus.PROHIBITED);
    stream.end();
  });

  it("refuses the whole stream of a requester the policy shares nothing with", async () => {
    const questions = new AsyncQueue<Question>();
    const stream = openStream(gb.client("gateway", { act: { id: "police-jp", kind: "police", country: "JP" } }).checkDevicesStream(questions), questions);
    stream.ask({ id: 1n, batch: { imeis: [A.imei], purpose: "JP-1" } });
    const error = await streamError(() => stream.next());
    assert.equal(Code[error.code], "PERMISSION_DENIED");
    assert.match(error.message, /sharing policy/);
  });

  it("ends an open stream when a trust file reload removes its caller, and leaves other callers' streams open", async () => {
    const client = createClient(RegistryService, gb.registry.address);
    const police = await trust.token("police-es", { audience: gb.id, scopes: ["devices:check"] });
    const gateway = await trust.token("gateway", { audience: gb.id, scopes: ["devices:check"] });
    const questions = { police: new AsyncQueue<Question>(), gateway: new AsyncQueue<Question>() };
    const policeStream = openStream(client.checkDevicesStream(questions.police, { metadata: { authorization: `Bearer ${police}` } }), questions.police);
    const gatewayStream = openStream(client.checkDevicesStream(questions.gateway, { metadata: { authorization: `Bearer ${gateway}` } }), questions.gateway);
    let restore: (() => Promise<void>) | undefined;
    try {
      policeStream.ask({ id: 1n, batch: { imeis: [B.imei], purpose: "ES-2" } });
      gatewayStream.ask({ id: 1n, batch: { imeis: [B.imei], purpose: "GB-2" } });
      assert.equal((await policeStream.next()).result.case, "checks");
      assert.equal((await gatewayStream.next()).result.case, "checks");
      restore = await trust.editTrustFile((file) => (file.principals = file.principals.filter((p) => p.id !== "police-es")));
      // Ended without a further question: an idle stream of a revoked partner does not linger.
      const error = await streamError(() => policeStream.next());
      assert.deepEqual([Code[error.code], error.reason], ["UNAUTHENTICATED", "TOKEN_UNKNOWN_ISSUER"]);
      assert.match(error.message, /trust file was reloaded/);
      gatewayStream.ask({ id: 2n, batch: { imeis: [B.imei], purpose: "GB-2" } });
      assert.equal((await gatewayStream.next()).id, 2n);
    } finally {
      await restore?.();
      gatewayStream.end();
      client.close();
    }
  });

  it("ends the stream with UNAUTHENTICATED once the token it was opened with expires", async () => {
    const token = await trust.token("police-es", { audience: gb.id, scopes: ["devices:check"], ttlSec: 60 });
    const client = createClient(RegistryService, gb.registry.address);
    try {
      const questions = new AsyncQueue<Question>();
      const stream = openStream(client.checkDevicesStream(questions, { metadata: { authorization: `Bearer ${token}` } }), questions);
      stream.ask({ id: 1n, batch: { imeis: [B.imei], purpose: "ES-1" } });
      assert.equal((await stream.next()).result.case, "checks");
      clockAheadMs = 61_000; // past the token's expiry, as the registry reads time
      stream.ask({ id: 2n, batch: { imeis: [B.imei], purpose: "ES-1" } });
      const error = await streamError(() => stream.next());
      assert.deepEqual([Code[error.code], error.reason], ["UNAUTHENTICATED", "TOKEN_EXPIRED"]);
    } finally {
      clockAheadMs = 0;
      client.close();
    }
  });
});
