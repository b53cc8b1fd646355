import assert from "node:assert/strict";
import { Verdict, UnansweredReason } from "../../gen/imeifed/v1/federation_pb.js";
import { requireDevice } from "../../device/index.js";
import { createTestTrust, type TestTrust } from "../support/trust-fixture.js";
import { startTestRegistry, type TestRegistry } from "../support/registry-fixture.js";
import { createTestPki, type TestPki } from "../support/tls-fixture.js";
import { startTestGateway, type TestGateway } from "./support/test-gateway.js";
import { storeReport } from "../support/registry-fixture.js";

const STOLEN = "356938035643809";

describe("gateway to registry over TLS", function () {
  this.timeout(30_000);
  let trust: TestTrust;
  let pki: TestPki;
  let gb: TestRegistry;
  const gateways: TestGateway[] = [];

  before(async () => {
    trust = await createTestTrust();
    pki = await createTestPki("gateway");
    gb = await startTestRegistry({
      country: "GB",
      trust,
      config: { tls: { cert: pki.server.cert, key: pki.server.key, ca: pki.ca, requireClientCert: true } },
    });
    // Written to the store directly: the fixture's own client speaks plaintext.
    await gb.registry.store.report(storeReport(requireDevice(STOLEN).key, { caseReference: "MET/TLS/1", crimeReference: "CR/1" }));
  });
  after(async () => {
    for (const g of gateways) await g.shutdown();
    await gb?.cleanup();
    await pki?.cleanup();
    await trust?.cleanup();
  });

  async function gatewayWith(serverName: string): Promise<TestGateway> {
    const gateway = await startTestGateway({
      trust,
      registries: [],
      config: {
        registries: [
          {
            country: "GB",
            id: "registry-gb",
            address: gb.registry.address,
            tls: { ca: pki.ca, cert: pki.client.cert, key: pki.client.key, serverName },
          },
        ],
        deadlines: { upstreamMaxMs: 1_000, marginMs: 50 },
      },
    });
    gateways.push(gateway);
    return gateway;
  }

  it("asks a registry over mutual TLS, checking the certificate against the configured server name", async () => {
    const gateway = await gatewayWith("localhost");
    const answer = await gateway.client("police-es").lookup({ imei: STOLEN, purpose: "TLS-1" }, { deadline: 5_000 });
    assert.equal(answer.verdict, Verdict.PROHIBITED);
    assert.equal(answer.findings[0]?.finding?.country, "GB");
  });

  it("refuses a registry whose certificate does not name the configured server name", async () => {
    const gateway = await gatewayWith("registry.wrong.example");
    const answer = await gateway.client("police-es").lookup({ imei: STOLEN, purpose: "TLS-2" }, { deadline: 3_000 });
    assert.equal(answer.verdict, Verdict.UNKNOWN);
    assert.equal(answer.unanswered[0]?.reason, UnansweredReason.UNAVAILABLE);
  });
});
