import assert from "node:assert/strict";
import { EquipmentCheck } from "../../networks/equipment-check.js";
import { frontPolicySchema } from "../../networks/operator-policy.js";
import { createEquipmentStatusHandler, type EirRequest, type EirResponse } from "../../networks/n5g-eir/equipment-status-handler.js";
import { TokenGate } from "../../trust/token-gate.js";
import { createTestTrust, DEFAULT_TEST_PRINCIPALS, type TestTrust } from "../support/trust-fixture.js";
import { imeiOf } from "../screening/support/screening-federation.js";
import { specValidators } from "./support/eir-client.js";

const validate = specValidators();
const PATH = "/n5g-eir-eic/v1/equipment-status";

describe("the N5g-eir request handler (transport aside)", () => {
  let trust: TestTrust;
  let token: string;
  let serving = true;
  let handle: (request: EirRequest) => Promise<EirResponse>;
  const request = (over: Partial<EirRequest>): EirRequest => ({
    method: "GET",
    url: `${PATH}?pei=imei-${imeiOf("35693803000086")}`,
    authorization: `Bearer ${token}`,
    accept: undefined,
    address: "127.0.0.1",
    receivedAt: Date.now(),
    ...over,
  });
  const problemOf = (response: EirResponse, status: number) => {
    assert.equal(response.status, status, response.body);
    assert.equal(response.headers["content-type"], "application/problem+json");
    const body = JSON.parse(response.body) as unknown;
    assert.equal(validate.problemDetails(body), undefined, response.body);
    return body as { type: string };
  };

  before(async () => {
    trust = await createTestTrust([...DEFAULT_TEST_PRINCIPALS, { id: "operator-hk", kind: "operator", country: "HK" }]);
    token = await trust.token("operator-hk", { audience: "gateway" });
    const check = new EquipmentCheck({
      checker: { links: [], check: (key) => Promise.resolve({ key, findings: [], unanswered: [], fromCache: true, ageMs: 0 }) },
      server: "gateway",
      front: { method: "N5gEir.GetEquipmentStatus", purpose: "n5g-eir" },
    });
    handle = createEquipmentStatusHandler({
      gate: new TokenGate({ trust: trust.trust, audience: "gateway" }),
      admission: { admit: () => () => {} },
      check,
      policy: frontPolicySchema.parse({}),
      serving: () => serving,
    });
  });
  after(async () => {
    await trust?.cleanup();
  });

  it("answers 200 {status} for a good request", async () => {
    const response = await handle(request({}));
    assert.equal(response.status, 200);
    assert.deepEqual(JSON.parse(response.body), { status: "WHITELISTED" });
  });

  it("answers 503 at once, and /healthz 503, once the gateway is shutting down", async () => {
    serving = false;
    try {
      assert.equal(problemOf(await handle(request({})), 503).type, "urn:imeifed:reason:SHUTTING_DOWN");
      problemOf(await handle(request({ url: "/healthz" })), 503);
    } finally {
      serving = true;
    }
    assert.equal((await handle(request({ url: "/healthz" }))).status, 200);
  });

  it("refuses other methods (405 with Allow), other answers than JSON (406) and over-long URIs (414)", async () => {
    const post = await handle(request({ method: "POST" }));
    problemOf(post, 405);
    assert.equal(post.headers.allow, "GET");
    problemOf(await handle(request({ accept: "text/html" })), 406);
    assert.equal((await handle(request({ accept: "application/json, text/html;q=0.5" }))).status, 200);
    problemOf(await handle(request({ url: `${PATH}?pei=imei-${imeiOf("35693803000086")}&supi=${"1".repeat(3_000)}` })), 414);
  });

  it("never names a subscriber's identity in an error, only the parameter", async () => {
    const response = await handle(request({ url: `${PATH}?pei=imei-1&supi=imsi-454009876543210&gpsi=&gpsi=msisdn-85291234567` }));
    const body = problemOf(response, 400) as unknown as { invalidParams: { param: string }[] };
    assert.deepEqual(body.invalidParams.map((p) => p.param), ["query pei", "query gpsi"]);
    assert.ok(!response.body.includes("454009876543210") && !response.body.includes("85291234567"));
  });
});
