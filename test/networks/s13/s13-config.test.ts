import assert from "node:assert/strict";
import { Code, ImeifedError } from "../../../errors/index.js";
import { parseGatewayConfig } from "../../../gateway/config.js";
import { startGateway } from "../../../gateway/gateway-server.js";
import { createTestTrust, DEFAULT_TEST_PRINCIPALS } from "../../support/trust-fixture.js";

const gateway = {
  id: "gateway",
  listen: "127.0.0.1:0",
  trustFile: "trust.json",
  key: "gateway.private.jwk.json",
  registries: [{ country: "gb", address: "127.0.0.1:50061", id: "registry-gb" }],
};
const s13 = {
  listen: "127.0.0.1:3868",
  originHost: "eir.imeifed.example",
  originRealm: "imeifed.example",
  peers: [{ originHost: "mme1.epc.mnc001.mcc603.3gppnetwork.org", originRealm: "epc.mnc001.mcc603.3gppnetwork.org", principal: "operator-dz" }],
};

function rejectsNaming(config: unknown, field: RegExp): void {
  assert.throws(
    () => parseGatewayConfig(config, "/etc/imeifed"),
    (error: unknown) => {
      assert.ok(error instanceof ImeifedError);
      assert.match(error.message, field);
      return true;
    },
  );
}

describe("networks.s13 config", () => {
  it("fills its documented defaults and resolves TLS paths against the config's directory", () => {
    const config = parseGatewayConfig({ ...gateway, networks: { s13: { ...s13, tls: { cert: "eir.pem", key: "eir.key" } } } }, "/etc/imeifed");
    const parsed = config.networks.s13!;
    assert.equal(parsed.onUnknown, "WHITELISTED");
    assert.equal(parsed.budgetMs, 500);
    assert.equal(parsed.onUnanswered, "WHITELISTED");
    assert.deepEqual(parsed.limits, { maxConnections: 64, maxInFlightPerConnection: 256, maxMessageBytes: 16_384, watchdogMs: 30_000, capabilitiesTimeoutMs: 10_000 });
    assert.equal(parsed.tls?.cert, "/etc/imeifed/eir.pem");
    assert.equal(parseGatewayConfig(gateway).networks.s13, undefined, "absent: not served");
  });

  it("names the field of a wrong section: a bad identity, no peers, a peer twice, a bad address block, an unknown field", () => {
    rejectsNaming({ ...gateway, networks: { s13: { ...s13, originHost: "has space" } } }, /networks\.s13\.originHost/);
    rejectsNaming({ ...gateway, networks: { s13: { ...s13, peers: [] } } }, /networks\.s13\.peers.*at least one peer/);
    rejectsNaming({ ...gateway, networks: { s13: { ...s13, peers: [s13.peers[0], { ...s13.peers[0], originHost: s13.peers[0]!.originHost.toUpperCase() }] } } }, /listed twice/);
    rejectsNaming({ ...gateway, networks: { s13: { ...s13, peers: [{ ...s13.peers[0], from: ["10.0.0.0/8", "not-an-ip"] }] } } }, /not-an-ip is not an IP address/);
    rejectsNaming({ ...gateway, networks: { s13: { ...s13, onUnknown: "BLACKLISTED" } } }, /networks\.s13\.onUnknown/);
    rejectsNaming({ ...gateway, networks: { s13: { ...s13, imsiLogging: true } } }, /imsiLogging/);
  });

  it("does not start a gateway whose S13 peer names a principal that is not an operator", async () => {
    const trust = await createTestTrust([...DEFAULT_TEST_PRINCIPALS, { id: "operator-dz", kind: "operator", country: "DZ" }]);
    try {
      for (const principal of ["police-es", "nobody"]) {
        const config = parseGatewayConfig({ ...gateway, trustFile: trust.trustFile, key: trust.privateKeyFile("gateway"), networks: { s13: { ...s13, listen: "127.0.0.1:0", peers: [{ ...s13.peers[0], principal }] } } });
        await assert.rejects(startGateway({ config, trust: trust.trust, tripwire: false }), (error: unknown) => {
          assert.ok(error instanceof ImeifedError);
          assert.equal(error.code, Code.FAILED_PRECONDITION);
          assert.match(error.message, new RegExp(`networks\\.s13\\.peers\\[0\\]\\.principal: ${principal} is not an operator`));
          return true;
        });
      }
    } finally {
      await trust.cleanup();
    }
  });
});
