import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { startInMemoryTelemetry, type InMemoryTelemetry } from "../../../observability/in-memory-telemetry.js";
import { createLogger } from "../../../observability/logger.js";
import { startTestGateway, type TestGateway } from "../../gateway/support/test-gateway.js";
import { startTestRegistry, type TestRegistry } from "../../support/registry-fixture.js";
import { createTestPki, type TestPki } from "../../support/tls-fixture.js";
import { createTestTrust, DEFAULT_TEST_PRINCIPALS, type TestTrust } from "../../support/trust-fixture.js";
import { DiameterClient, MME, equipmentStatusOf, resultCodeOf } from "./support/diameter-client.js";
import { EIR, freshImei } from "./support/s13-federation.js";
import { Code, ImeifedError } from "../../../errors/index.js";
import type { AuditLog } from "../../../trust/audit/index.js";
import { COMMAND, decodeMessage, encodeMessage } from "../../../networks/s13/diameter/index.js";
import { waitFor } from "../../support/waiting.js";

const STOLEN = freshImei();
const IMSI = "603015550001234";

describe("the S13 peer over TLS, at its connection limit, traced, and after a trust reload (in-process gateway)", function () {
  this.timeout(60_000);
  let trust: TestTrust;
  let pki: TestPki;
  let gb: TestRegistry;
  let gw: TestGateway;
  let telemetry: InMemoryTelemetry;
  const logLines: string[] = [];
  let port: number;
  const tls = () => ({ ca: readFileSync(pki.ca), cert: readFileSync(pki.client.cert), key: readFileSync(pki.client.key), servername: "localhost" });

  before(async () => {
    telemetry = await startInMemoryTelemetry();
    trust = await createTestTrust([...DEFAULT_TEST_PRINCIPALS, { id: "operator-dz", kind: "operator", country: "DZ" }]);
    pki = await createTestPki("mme1");
    gb = await startTestRegistry({ country: "GB", trust, seed: [{ imeis: [STOLEN] }] });
    gw = await startTestGateway({
      trust,
      registries: [{ country: "GB", address: gb.registry.address }],
      logger: createLogger("gateway", { level: "debug", write: (line) => logLines.push(line) }),
      config: {
        networks: {
          s13: {
            listen: "127.0.0.1:0",
            tls: { cert: pki.server.cert, key: pki.server.key, ca: pki.ca, requireClientCert: true },
            ...EIR,
            peers: [{ ...MME, principal: "operator-dz" }],
            limits: { maxConnections: 2 },
          },
        },
      },
    });
    port = gw.gateway.networks.s13!.port;
  });
  after(async () => {
    await gw?.shutdown();
    await gb?.cleanup();
    await pki?.cleanup();
    await trust?.cleanup();
    await telemetry?.shutdown();
  });

  it("answers over mutual TLS, and traces each check with the device masked and no IMSI in any span or log line", async () => {
    telemetry.reset();
    const mme = await DiameterClient.open(port, MME, tls());
    try {
      const answer = await mme.ask(mme.meIdentityCheck(STOLEN, { userName: IMSI }));
      assert.deepEqual([resultCodeOf(answer), equipmentStatusOf(answer)], [2001, 1]);
    } finally {
      mme.close();
    }
    await sleep(100);
    const spans = telemetry.spans();
    const s13 = spans.find((s) => s.name === "S13/ME-Identity-Check");
    assert.ok(s13, `no S13 span among ${spans.map((s) => s.name).join(", ")}`);
    assert.equal(s13.attributes["imeifed.principal"], "operator-dz");
    assert.equal(s13.attributes["imeifed.equipment_status"], "BLACKLISTED");
    assert.equal(s13.attributes["imeifed.device.imei_masked"], `${STOLEN.slice(0, 8)}****${STOLEN.slice(-2)}`);
    const everything = JSON.stringify(spans.map((s) => ({ name: s.name, attributes: s.attributes, events: s.events, status: s.status, resource: s.resource.attributes })));
    assert.ok(!everything.includes(IMSI), "the IMSI is in a span");
    assert.ok(!everything.includes(STOLEN), "an unmasked IMEI is in a span");
    assert.ok(logLines.some((l) => l.includes("diameter peer connected")), "the front logs (so the next check means something)");
    assert.ok(!logLines.join("\n").includes(IMSI), "the IMSI is in a log line");
  });

  it("refuses a plaintext client and a client without a certificate on the TLS port", async () => {
    const plain = await DiameterClient.connect(port);
    plain.write(plain.request(257, 0, []));
    await plain.closed;
    assert.equal(plain.received.length, 0);
    const noCert = await DiameterClient.connect(port, MME, { ca: readFileSync(pki.ca), servername: "localhost" }).catch((e: Error) => e);
    if (noCert instanceof DiameterClient) {
      noCert.write(noCert.request(257, 0, []));
      await noCert.closed;
      assert.equal(noCert.received.length, 0);
    }
  });

  it("closes a connection past maxConnections (2) at once, and takes a new one when a slot frees", async () => {
    const first = await DiameterClient.open(port, MME, tls());
    const second = await DiameterClient.open(port, MME, tls());
    const third = await DiameterClient.connect(port, MME, tls()).catch((e: Error) => e);
    if (third instanceof DiameterClient) {
      third.write(third.request(257, 0, []));
      await third.closed;
      assert.equal(third.received.length, 0);
    }
    assert.equal(equipmentStatusOf(await first.ask(first.meIdentityCheck(STOLEN))), 1, "the open connections go on");
    first.close();
    await sleep(100);
    const fourth = await DiameterClient.open(port, MME, tls());
    assert.equal(equipmentStatusOf(await fourth.ask(fourth.meIdentityCheck(STOLEN))), 1);
    second.close();
    fourth.close();
    await sleep(100);
  });

  it("answers 5003 on an open connection once the trust file no longer lists its operator, and 2001 again when it is back", async () => {
    const mme = await DiameterClient.open(port, MME, tls());
    try {
      const restore = await trust.editTrustFile((file) => {
        file.principals.splice(file.principals.findIndex((p) => p.id === "operator-dz"), 1);
      });
      assert.equal(resultCodeOf(await mme.ask(mme.meIdentityCheck(STOLEN))), 5003);
      await restore();
      assert.equal(equipmentStatusOf(await mme.ask(mme.meIdentityCheck(STOLEN))), 1);
    } finally {
      mme.close();
    }
  });
});

describe("the S13 peer when the federation cannot answer (in-process gateway)", function () {
  this.timeout(60_000);
  let trust: TestTrust;
  let gb: TestRegistry;
  let gw: TestGateway;
  let mme: DiameterClient;
  // The gateway's audit log, made to fail as a real one does: full (append throws UNAVAILABLE) or stuck (append never settles).
  let auditMode: "working" | "full" | "stuck" = "working";
  const audit = {
    append: () => {
      if (auditMode === "full") throw new ImeifedError(Code.UNAVAILABLE, "AUDIT_UNAVAILABLE", "the audit backlog is full");
      if (auditMode === "stuck") return new Promise<void>(() => {});
    },
    appendDurably: async () => {},
    flush: async () => {},
    query: async () => [],
    close: async () => {},
  } as unknown as AuditLog;

  before(async () => {
    trust = await createTestTrust([...DEFAULT_TEST_PRINCIPALS, { id: "operator-dz", kind: "operator", country: "DZ" }]);
    gb = await startTestRegistry({ country: "GB", trust, seed: [{ imeis: [STOLEN] }] });
    gw = await startTestGateway({
      trust,
      audit,
      logger: createLogger("gateway", { write: () => {} }),
      registries: [{ country: "GB", address: gb.registry.address }],
      config: { networks: { s13: { listen: "127.0.0.1:0", ...EIR, peers: [{ ...MME, principal: "operator-dz" }], budgetMs: 300 } } },
    });
    mme = await DiameterClient.open(gw.gateway.networks.s13!.port);
  });
  after(async () => {
    mme?.close();
    await gw?.shutdown();
    await gb?.cleanup();
    await trust?.cleanup();
  });

  it("answers 5012 DIAMETER_UNABLE_TO_COMPLY when the check cannot be recorded, and when it has no verdict within the budget", async () => {
    assert.equal(equipmentStatusOf(await mme.ask(mme.meIdentityCheck(STOLEN))), 1);
    auditMode = "full";
    assert.equal(resultCodeOf(await mme.ask(mme.meIdentityCheck(STOLEN))), 5012);
    auditMode = "stuck";
    const started = Date.now();
    const stuck = await mme.ask(mme.meIdentityCheck(STOLEN));
    const took = Date.now() - started;
    assert.equal(resultCodeOf(stuck), 5012);
    assert.ok(took >= 250 && took < 600, `answered after ${took} ms (budget 300)`);
    auditMode = "working";
    assert.equal(equipmentStatusOf(await mme.ask(mme.meIdentityCheck(STOLEN))), 1);
  });

  it("stops reading a peer that does not read its answers instead of buffering them, and serves the others", async () => {
    const hog = await DiameterClient.open(gw.gateway.networks.s13!.port);
    try {
      hog.socket.pause();
      const dwr = encodeMessage(hog.request(COMMAND.deviceWatchdog, 0, []));
      const burst = Buffer.alloc(dwr.length * 400_000);
      for (let at = 0; at < burst.length; at += dwr.length) dwr.copy(burst, at);
      hog.socket.write(burst);
      await sleep(1_000);
      const unread = hog.socket.writableLength;
      await sleep(1_500);
      assert.ok(unread > 0, "the EIR read all 400,000 requests while their answers went unread");
      assert.equal(hog.socket.writableLength, unread, "the EIR kept reading requests whose answers the peer does not read");
      assert.equal(equipmentStatusOf(await mme.ask(mme.meIdentityCheck(STOLEN))), 1);
    } finally {
      hog.close();
    }
  });

  it("answers a request with the E bit set 3008 DIAMETER_INVALID_HDR_BITS, and the connection goes on", async () => {
    const request = mme.meIdentityCheck(STOLEN);
    const bytes = encodeMessage(request);
    bytes[4] = bytes[4]! | 0x20;
    const before = mme.received.length;
    mme.write(bytes);
    await waitFor("the 3008 answer", () => (mme.received.length > before ? true : undefined));
    const answer = decodeMessage(mme.received[before]!);
    assert.ok(answer.ok);
    assert.equal(answer.value.hopByHop, request.hopByHop);
    assert.equal(resultCodeOf(answer.value), 3008);
    assert.equal(equipmentStatusOf(await mme.ask(mme.meIdentityCheck(STOLEN))), 1);
  });
});
