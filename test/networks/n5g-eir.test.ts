import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import * as http2 from "node:http2";
import * as https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ClearReason, DeviceStatus } from "../../gen/imeifed/v1/device_pb.js";
import { SightingKind } from "../../gen/imeifed/v1/registry_pb.js";
import type { RegistryTripwire } from "../../gateway/tripwire/registry-tripwire.js";
import { createTestTrust, DEFAULT_TEST_PRINCIPALS, type TestTrust } from "../support/trust-fixture.js";
import { imeiOf, startScreeningFederation, watchForSighting, type ScreeningFederation } from "../screening/support/screening-federation.js";
import { within } from "../support/waiting.js";
import { createTestPki } from "../support/tls-fixture.js";
import { H2cEir, http1Get, specValidators, type EirAnswer } from "./support/eir-client.js";

const PATH = "/n5g-eir-eic/v1/equipment-status";
const STOLEN_GB = "35693803710019";
const TRACKED_ES = "35693803720018";
const CLEAN = "35693803730017";
const SIGHTED_GB = "35693803740016";
const SUPI = "imsi-454009876543210";
const GPSI = "msisdn-85291234567";

const validate = specValidators();

/** Asserts an answer is a ProblemDetails of `status` that validates against the 3GPP schema; returns its body. */
function assertProblem(answer: EirAnswer, status: number): Record<string, unknown> {
  assert.equal(answer.status, status, `wanted ${status}, got ${answer.status}: ${answer.body}`);
  assert.equal(answer.headers["content-type"], "application/problem+json");
  const body = answer.json as Record<string, unknown>;
  assert.equal(validate.problemDetails(body), undefined, `ProblemDetails against TS 29.571: ${answer.body}`);
  assert.equal(body.status, status);
  return body;
}

/** Asserts a 200 EirResponseData and returns its status. */
function statusOf(answer: EirAnswer): string {
  assert.equal(answer.status, 200, answer.body);
  assert.equal(answer.headers["content-type"], "application/json");
  assert.equal(validate.eirResponse(answer.json), undefined, `EirResponseData against TS 29.511: ${answer.body}`);
  assert.deepEqual(Object.keys(answer.json as object), ["status"]);
  return (answer.json as { status: string }).status;
}

const imeiPei = (body: string) => `imei-${imeiOf(body)}`;
const imeisvPei = (body: string) => `imeisv-${body}42`;
const wrongCheckDigit = (body: string) => `imei-${body}${(Number(imeiOf(body).slice(-1)) + 1) % 10}`;

describe("N5g-eir: 5G cores ask the federation (five registries, h2c and HTTP/1.1 on one port)", function () {
  this.timeout(60_000);
  let trust: TestTrust;
  let fed: ScreeningFederation;
  let dir: string;
  let url: string;
  let h2: H2cEir;
  let operatorToken: string;
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
  const ask = (pei: string, extra = "") => h2.get(`${PATH}?pei=${encodeURIComponent(pei)}${extra}`, bearer(operatorToken));

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), "imeifed-n5g-"));
    trust = await createTestTrust([
      ...DEFAULT_TEST_PRINCIPALS,
      { id: "operator-hk", kind: "operator", country: "HK", name: "A Hong Kong network" },
      { id: "operator-gb", kind: "operator", country: "GB", name: "A UK network" },
    ]);
    fed = await startScreeningFederation({
      trust,
      seed: {
        GB: [{ imeis: [imeiOf(STOLEN_GB)], caseReference: "MET-N5G-1" }, { imeis: [imeiOf(SIGHTED_GB)], caseReference: "MET-N5G-2" }],
        ES: [{ imeis: [imeiOf(TRACKED_ES)], status: DeviceStatus.TRACKED, caseReference: "PN-N5G-1" }],
      },
      gatewayConfig: {
        audit: { sqlite: join(dir, "gateway-audit.sqlite") },
        // A generous budget: these tests are about the answers, the budget suite (n5g-eir-budget.test.ts) about time.
        networks: { n5gEir: { listen: "127.0.0.1:0", budgetMs: 2_000, operators: { "operator-gb": { onInvalidImei: "BLACKLISTED" } } } },
      },
    });
    url = fed.gateway.networks.n5gEir!.url;
    h2 = new H2cEir(url);
    operatorToken = await trust.token("operator-hk", { audience: "gateway", ttlSec: 600 });
  });
  after(async () => {
    h2?.close();
    await fed?.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it("maps PROHIBITED to BLACKLISTED, TRACKED to GREYLISTED and not listed to WHITELISTED over h2c, for imei- and imeisv- PEIs", async () => {
    assert.equal(statusOf(await ask(imeiPei(STOLEN_GB))), "BLACKLISTED");
    assert.equal(statusOf(await ask(imeisvPei(STOLEN_GB))), "BLACKLISTED");
    assert.equal(statusOf(await ask(imeiPei(TRACKED_ES))), "GREYLISTED");
    assert.equal(statusOf(await ask(imeisvPei(TRACKED_ES))), "GREYLISTED");
    assert.equal(statusOf(await ask(imeiPei(CLEAN))), "WHITELISTED");
    assert.equal(statusOf(await ask(imeisvPei(CLEAN))), "WHITELISTED");
  });

  it("answers HTTP/1.1 on the same port, and /healthz", async () => {
    const get = (pei: string) => http1Get(`${url}${PATH}?pei=${pei}`, bearer(operatorToken));
    assert.equal(statusOf(await get(imeiPei(STOLEN_GB))), "BLACKLISTED");
    assert.equal(statusOf(await get(imeisvPei(TRACKED_ES))), "GREYLISTED");
    assert.equal(statusOf(await get(imeiPei(CLEAN))), "WHITELISTED");
    const health = await http1Get(`${url}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(health.json, { status: "SERVING" });
    assert.equal((await h2.get("/healthz")).status, 200);
  });

  it("answers a malformed or missing pei with 400 ProblemDetails naming query pei", async () => {
    const cases: [string, string][] = [
      ["", "MANDATORY_QUERY_PARAM_MISSING"],
      ["?pei=", "MANDATORY_QUERY_PARAM_MISSING"],
      ["?pei=imei-12345", "MANDATORY_QUERY_PARAM_INCORRECT"],
      ["?pei=imeisv-123456789012345", "MANDATORY_QUERY_PARAM_INCORRECT"],
      ["?pei=imei-35693803730017x", "MANDATORY_QUERY_PARAM_INCORRECT"],
      ["?pei=mac-00-11-22-33-44-55", "MANDATORY_QUERY_PARAM_INCORRECT"],
      [`?pei=${imeiPei(CLEAN)}&pei=${imeiPei(STOLEN_GB)}`, "MANDATORY_QUERY_PARAM_INCORRECT"],
    ];
    for (const [query, cause] of cases) {
      for (const answer of [await h2.get(`${PATH}${query}`, bearer(operatorToken)), await http1Get(`${url}${PATH}${query}`, bearer(operatorToken))]) {
        const body = assertProblem(answer, 400);
        assert.equal(body.cause, cause, query);
        const params = body.invalidParams as { param: string; reason: string }[];
        assert.equal(params[0]!.param, "query pei", query);
        assert.ok(params[0]!.reason.length > 10, "the reason tells what to fix");
      }
    }
    const features = assertProblem(await ask(imeiPei(CLEAN), "&supported-features=xyz"), 400);
    assert.deepEqual((features.invalidParams as { param: string }[]).map((p) => p.param), ["query supported-features"]);
    assert.equal(statusOf(await ask(imeiPei(CLEAN), "&supported-features=1a")), "WHITELISTED");
  });

  it("refuses callers without a good token with 401, and without the scope or the operator kind with 403", async () => {
    const path = `${PATH}?pei=${imeiPei(STOLEN_GB)}`;
    const none = assertProblem(await h2.get(path), 401);
    assert.equal(none.type, "urn:imeifed:reason:TOKEN_MISSING");
    assert.match(String((await h2.get(path)).headers["www-authenticate"]), /^Bearer/);
    assert.equal(assertProblem(await h2.get(path, { authorization: "Bearer not.a.jwt" }), 401).type, "urn:imeifed:reason:TOKEN_MALFORMED");
    const expired = await trust.token("operator-hk", { audience: "gateway", ttlSec: 60, now: new Date(Date.now() - 3_600_000) });
    assert.equal(assertProblem(await h2.get(path, bearer(expired)), 401).type, "urn:imeifed:reason:TOKEN_EXPIRED");
    const otherAudience = await trust.token("operator-hk", { audience: "registry-gb" });
    assert.equal(assertProblem(await http1Get(`${url}${path}`, bearer(otherAudience)), 401).type, "urn:imeifed:reason:TOKEN_WRONG_AUDIENCE");
    const noScope = await trust.token("operator-hk", { audience: "gateway", scopes: [] });
    assert.equal(assertProblem(await h2.get(path, bearer(noScope)), 403).type, "urn:imeifed:reason:SCOPE_REQUIRED");
    const police = await trust.token("police-es", { audience: "gateway" });
    assert.equal(assertProblem(await h2.get(path, bearer(police)), 403).type, "urn:imeifed:reason:SCOPE_REQUIRED");
    assertProblem(await h2.get("/n5g-eir-eic/v1/nothing-here", bearer(operatorToken)), 404);
  });

  it("answers an IMEI failing its check digit, or all zeros, by the operator's policy (never WHITELISTED), unless a finding is stricter", async () => {
    const wrong = wrongCheckDigit;
    assert.equal(statusOf(await ask(wrong(CLEAN))), "GREYLISTED", "the default policy");
    assert.equal(statusOf(await ask("imei-000000000000000")), "GREYLISTED");
    assert.equal(statusOf(await ask("imeisv-0000000000000000")), "GREYLISTED");
    assert.equal(statusOf(await ask(wrong(STOLEN_GB))), "BLACKLISTED", "the registry's finding is stricter");
    const gbToken = await trust.token("operator-gb", { audience: "gateway" });
    assert.equal(statusOf(await h2.get(`${PATH}?pei=${wrong(CLEAN)}`, bearer(gbToken))), "BLACKLISTED", "operator-gb's own policy");
  });

  it("reads a theft reported now as BLACKLISTED within 1 second, and its clearance as WHITELISTED within 1 second", async () => {
    const body = "35693803750015";
    const read = async () => String(((await ask(imeiPei(body))).json as { status?: string }).status);
    assert.equal(await read(), "WHITELISTED");
    await fed.registries.get("JP")!.report({ imeis: [imeiOf(body)], caseReference: "NPA-N5G-1" });
    const reported = await within(1_000, read, "BLACKLISTED");
    const police = fed.registries.get("JP")!.client("police-jp");
    await police.clearDevice({ imei: imeiOf(body), caseReference: "NPA-N5G-1", reason: ClearReason.RECOVERED });
    const cleared = await within(1_000, read, "WHITELISTED");
    assert.ok(reported <= 1_000 && cleared <= 1_000);
  });

  it("tells the owning registry where its stolen phone attached, once per device and operator within the window", async () => {
    const tripwire = fed.gateway.context.tripwire as RegistryTripwire;
    const watch = watchForSighting(fed.registries.get("GB")!, "police-gb", (s) => s.deviceKey === SIGHTED_GB && s.kind === SightingKind.NETWORK_ATTACH, 5_000);
    assert.equal(statusOf(await ask(imeiPei(SIGHTED_GB), `&supi=${SUPI}`)), "BLACKLISTED");
    const askedAt = Date.now();
    const sighting = await watch.sighting;
    assert.ok(sighting.receivedAt - askedAt < 1_000, `the sighting took ${sighting.receivedAt - askedAt} ms`);
    assert.equal(sighting.partnerKind, "operator");
    assert.equal(sighting.partnerId, "operator-hk");
    assert.equal(sighting.seenInCountry, "HK");
    assert.equal(sighting.caseReference, "MET-N5G-2");
    await tripwire.flush();
    const before = { ...tripwire.stats };
    for (let i = 0; i < 3; i++) assert.equal(statusOf(await ask(imeisvPei(SIGHTED_GB))), "BLACKLISTED");
    await tripwire.flush();
    assert.equal(tripwire.stats.queued, before.queued, "no new sighting within the window");
    assert.equal(tripwire.stats.repeats, before.repeats + 3);
    // A network at home is news too: operator-gb's attach of a GB-listed phone is a sighting at GB.
    const home = watchForSighting(fed.registries.get("GB")!, "police-gb", (s) => s.deviceKey === SIGHTED_GB && s.partnerId === "operator-gb", 5_000);
    const gbToken = await trust.token("operator-gb", { audience: "gateway" });
    assert.equal(statusOf(await h2.get(`${PATH}?pei=${imeiPei(SIGHTED_GB)}`, bearer(gbToken))), "BLACKLISTED");
    assert.equal((await home.sighting).seenInCountry, "GB");
  });

  it("audits every check at the gateway and at the registries, with the operator as requester and n5g-eir as purpose", async () => {
    await ask(imeiPei(STOLEN_GB));
    const audit = fed.gateway.context.audit!;
    const rows = await audit.query({ principal: "operator-hk", method: "N5gEir.GetEquipmentStatus", deviceKey: STOLEN_GB });
    assert.ok(rows.length > 0, "the gateway audited the check");
    assert.equal(rows.at(-1)!.purpose, "n5g-eir");
    assert.equal(rows.at(-1)!.verdict, "BLACKLISTED");
    assert.deepEqual([...rows.at(-1)!.countries].sort(), ["BR", "ES", "GB", "JP", "US"]);
    // Registries see the gateway calling on the operator's behalf (the cache answers repeats, so look for any).
    const registryRows = await fed.registries.get("GB")!.registry.audit.query({ requester: "operator-hk" });
    assert.ok(registryRows.some((r) => r.purpose === "n5g-eir" && r.actor === "operator-hk"), "the registry audited the operator's check");
  });

  it("serves TLS from config, h2 and http/1.1 chosen by ALPN", async () => {
    const pki = await createTestPki();
    try {
      const gateway = await fed.startGateway(
        [...fed.registries.values()].map((r) => ({ country: r.registry.country, address: r.registry.address })),
        { networks: { n5gEir: { listen: "127.0.0.1:0", tls: { cert: pki.server.cert, key: pki.server.key } } } },
        { tripwire: false },
      );
      const tlsUrl = gateway.networks.n5gEir!.url;
      assert.match(tlsUrl, /^https:/);
      const ca = readFileSync(pki.ca);
      const session = http2.connect(tlsUrl, { ca, ALPNProtocols: ["h2"] });
      const overH2 = await new Promise<{ status: number; body: string; alpn: string | undefined }>((resolve, reject) => {
        const stream = session.request({ ":path": `${PATH}?pei=${imeiPei(STOLEN_GB)}`, authorization: `Bearer ${operatorToken}` });
        let status = 0;
        let body = "";
        stream.on("response", (h) => (status = Number(h[":status"])));
        stream.on("data", (c: Buffer) => (body += c.toString()));
        stream.on("end", () => resolve({ status, body, alpn: session.alpnProtocol }));
        stream.on("error", reject);
        stream.end();
      });
      session.close();
      assert.equal(overH2.alpn, "h2");
      assert.equal(overH2.status, 200);
      assert.deepEqual(JSON.parse(overH2.body), { status: "BLACKLISTED" });
      const overH1 = await new Promise<{ status: number; body: string; alpn: string | false | null }>((resolve, reject) => {
        const req = https.get(`${tlsUrl}${PATH}?pei=${imeiPei(CLEAN)}`, { ca, agent: false, headers: { authorization: `Bearer ${operatorToken}` } }, (res) => {
          let body = "";
          res.on("data", (c: Buffer) => (body += c.toString()));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body, alpn: (res.socket as import("node:tls").TLSSocket).alpnProtocol }));
        });
        req.on("error", reject);
      });
      assert.equal(overH1.status, 200);
      assert.notEqual(overH1.alpn, "h2");
      assert.deepEqual(JSON.parse(overH1.body), { status: "WHITELISTED" });
    } finally {
      await pki.cleanup();
    }
  });

  it("never stores, logs, traces, audits or forwards supi and gpsi", async () => {
    const { startInMemoryTelemetry } = await import("../../observability/in-memory-telemetry.js");
    const telemetry = await startInMemoryTelemetry("n5g-privacy");
    const written: string[] = [];
    const outWrite = process.stdout.write.bind(process.stdout);
    const errWrite = process.stderr.write.bind(process.stderr);
    const capture = (chunk: unknown) => (written.push(String(chunk)), true);
    process.stdout.write = capture as typeof process.stdout.write;
    process.stderr.write = capture as typeof process.stderr.write;
    const body = "35693803760014";
    let sightings: string;
    try {
      await fed.registries.get("BR")!.report({ imeis: [imeiOf(body)], caseReference: "PC-N5G-1" });
      const watch = watchForSighting(fed.registries.get("BR")!, "police-br", (s) => s.deviceKey === body, 5_000);
      const carry = `&supi=${encodeURIComponent(SUPI)}&gpsi=${encodeURIComponent(GPSI)}`;
      await within(1_000, async () => String(((await ask(imeiPei(body), carry)).json as { status: string }).status), "BLACKLISTED");
      assert.equal(statusOf(await ask(imeiPei(CLEAN), carry)), "WHITELISTED");
      assert.equal(statusOf(await ask(wrongCheckDigit(CLEAN), carry)), "GREYLISTED", "a policy answer, which is logged");
      assert.equal(statusOf(await http1Get(`${url}${PATH}?pei=${imeisvPei(CLEAN)}${carry}`, bearer(operatorToken))), "WHITELISTED");
      assertProblem(await ask("imei-1", carry), 400);
      assertProblem(await h2.get(`${PATH}?pei=${imeiPei(CLEAN)}${carry}`), 401);
      sightings = JSON.stringify(await watch.sighting, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v));
      await (fed.gateway.context.tripwire as RegistryTripwire).flush();
      await telemetry.forceFlush();
    } finally {
      process.stdout.write = outWrite;
      process.stderr.write = errWrite;
    }
    const spans = telemetry.spans();
    await telemetry.shutdown();
    assert.ok(spans.some((s) => s.name === "N5g-eir GetEquipmentStatus"), "the checks were traced");
    const spanText = JSON.stringify(spans.map((s) => ({ name: s.name, attributes: s.attributes, events: s.events, status: s.status })));
    const gatewayRows = JSON.stringify(await fed.gateway.context.audit!.query({ limit: 100_000 }));
    const registryRows = JSON.stringify(await Promise.all([...fed.registries.values()].map((r) => r.registry.audit.query({ limit: 100_000 }))));
    const logs = written.join("");
    assert.ok(gatewayRows.includes(body) && registryRows.includes("operator-hk"), "the rows searched are the ones the checks wrote");
    assert.ok(logs.includes("equipment check answered by operator policy"), "the log lines searched include the checks'");
    for (const secret of ["454009876543210", "85291234567", "imsi-", "msisdn-"]) {
      assert.ok(!gatewayRows.includes(secret), `gateway audit holds ${secret}`);
      assert.ok(!registryRows.includes(secret), `registry audit holds ${secret}`);
      assert.ok(!spanText.includes(secret), `a span holds ${secret}`);
      assert.ok(!logs.includes(secret), `a log line holds ${secret}`);
      assert.ok(!sightings.includes(secret), `the sighting holds ${secret}`);
    }
  });
});
