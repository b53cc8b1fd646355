import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { durationMs } from "@bufbuild/protobuf/wkt";
import { Code, ImeifedError } from "../../errors/index.js";
import { DeviceStatus } from "../../gen/imeifed/v1/device_pb.js";
import { FederationService, UnansweredReason, Verdict, type LookupResponse } from "../../gen/imeifed/v1/federation_pb.js";
import { createClient } from "../../rpc/index.js";
import { createTestTrust, type TestTrust } from "../support/trust-fixture.js";
import { startTestGateway, type TestGateway } from "./support/test-gateway.js";
import { startToyRegistry, type ToyRegistry } from "./support/toy-registry.js";
import { rejectsWith } from "../support/rejections.js";
import { waitFor } from "../support/waiting.js";

const COUNTRIES = ["GB", "ES", "JP", "BR", "US"];
const verdict = (r: LookupResponse) => Verdict[r.verdict];
const unanswered = (r: LookupResponse) => r.unanswered.map((u) => `${u.country}:${UnansweredReason[u.reason]}`).sort();

describe("gateway Lookup over sockets (toy registries)", function () {
  this.timeout(20_000);
  let trust: TestTrust;
  let registries: Map<string, ToyRegistry>;
  let gw: TestGateway;
  let serial = 100_000;
  /** A device no test has used yet (valid Luhn via the 14-digit body form). */
  const fresh = () => `35693803${String(serial++).padStart(6, "0")}`;
  const reg = (c: string) => registries.get(c)!;

  before(async () => {
    trust = await createTestTrust();
    registries = new Map();
    for (const country of COUNTRIES) registries.set(country, await startToyRegistry({ country, trust }));
    gw = await startTestGateway({
      trust,
      registries: COUNTRIES.map((c) => ({ country: c, address: reg(c).address })),
      config: { deadlines: { upstreamMaxMs: 1_000, marginMs: 25 } },
    });
  });
  after(async () => {
    await gw?.shutdown();
    for (const r of registries?.values() ?? []) await r.shutdown();
    await trust?.cleanup();
  });
  afterEach(() => {
    for (const r of registries.values()) {
      r.setDelay(0);
      r.fail(undefined);
      r.hang(false);
    }
  });

  it("answers PERMITTED when all five registries answered and none lists the device", async () => {
    const r = await gw.client("police-es").lookup({ imei: fresh(), purpose: "case ES-1" });
    assert.equal(verdict(r), "PERMITTED");
    assert.deepEqual(unanswered(r), []);
    assert.equal(r.findings.length, 0);
    assert.equal(r.device?.imei.length, 15);
  });

  it("answers PROHIBITED with the listing registry's finding, and TRACKED when only tracked", async () => {
    const stolen = fresh();
    reg("GB").list(stolen);
    reg("BR").list(stolen, DeviceStatus.TRACKED);
    const r = await gw.client("police-es").lookup({ imei: stolen, purpose: "case ES-2" });
    assert.equal(verdict(r), "PROHIBITED");
    assert.deepEqual(r.findings.map((f) => f.finding?.country).sort(), ["BR", "GB"]);
    const tracked = fresh();
    reg("BR").list(tracked, DeviceStatus.TRACKED);
    assert.equal(verdict(await gw.client("police-es").lookup({ imei: tracked, purpose: "case ES-3" })), "TRACKED");
  });

  it("finds a device by its IMEISV and its 14-digit body alike (one device key)", async () => {
    const body = fresh();
    reg("JP").list(body);
    for (const form of [body, `${body}07`]) {
      assert.equal(verdict(await gw.client("police-es").lookup({ imei: form, purpose: "case ES-4" })), "PROHIBITED", form);
    }
  });

  it("asks only the named countries, and lists an unknown country as UNKNOWN_COUNTRY", async () => {
    const imei = fresh();
    const before = reg("JP").calls.length;
    const r = await gw.client("police-es").lookup({ imei, countries: ["gb", "ES", "XX"], purpose: "case ES-5" });
    assert.deepEqual(unanswered(r), ["XX:UNKNOWN_COUNTRY"]);
    assert.equal(verdict(r), "UNKNOWN");
    assert.equal(reg("JP").calls.length, before, "JP was not asked");
  });

  it("refuses bad input with INVALID_ARGUMENT naming the field", async () => {
    const c = gw.client("police-es");
    await rejectsWith(c.lookup({ imei: "490154203237519", purpose: "x" }), Code.INVALID_ARGUMENT, /imei: fails the Luhn check/);
    await rejectsWith(c.lookup({ imei: fresh(), purpose: " " }), Code.INVALID_ARGUMENT, /purpose: is empty/);
    await rejectsWith(c.lookup({ imei: fresh(), purpose: "x", countries: ["GBR"] }), Code.INVALID_ARGUMENT, /countries\[0\]/);
  });

  it("refuses a caller without a token, or without the devices:check scope", async () => {
    const anonymous = createClient(FederationService, gw.gateway.address);
    await rejectsWith(anonymous.lookup({ imei: fresh(), purpose: "x" }), Code.UNAUTHENTICATED, /token/i);
    anonymous.close();
    const narrow = createClient(FederationService, gw.gateway.address, { metadata: trust.metadataFor("police-es", "gateway", ["devices:screen"]) });
    await rejectsWith(narrow.lookup({ imei: fresh(), purpose: "x" }), Code.PERMISSION_DENIED, /devices:check/);
    narrow.close();
  });

  it("calls upstream as the gateway with an act claim naming the requester, and passes the purpose", async () => {
    const imei = fresh();
    await gw.client("customs-gb").lookup({ imei, countries: ["US"], purpose: "declaration D-77" });
    const call = reg("US").calls.at(-1)!;
    assert.equal(call.actor, "customs-gb");
    assert.equal(call.purpose, "declaration D-77");
  });

  it("lists a registry that refuses the requester as REFUSED, and the rest still answer", async () => {
    reg("JP").refuse("customs-gb");
    const r = await gw.client("customs-gb").lookup({ imei: fresh(), purpose: "declaration D-78" });
    assert.deepEqual(unanswered(r), ["JP:REFUSED"]);
    assert.equal(verdict(r), "UNKNOWN");
  });

  it("answers before the caller's deadline with a slow registry listed as DEADLINE", async () => {
    reg("BR").hang(true);
    const imei = fresh();
    reg("GB").list(imei);
    // Resolving at all proves it: past its deadline the client fails the call with DEADLINE_EXCEEDED.
    const r = await gw.client("police-es").lookup({ imei, purpose: "case ES-6" }, { deadline: 400 });
    assert.deepEqual(unanswered(r), ["BR:DEADLINE"]);
    assert.equal(verdict(r), "PROHIBITED");
  });

  it("serves a repeat lookup from the cache, with its age, without asking again", async () => {
    const imei = fresh();
    reg("ES").list(imei);
    const c = gw.client("police-gb");
    const first = await c.lookup({ imei, purpose: "case GB-1" });
    assert.equal(first.fromCache, false);
    const asked = COUNTRIES.map((cc) => reg(cc).calls.length);
    await sleep(20);
    const second = await c.lookup({ imei, purpose: "case GB-1" });
    assert.equal(second.fromCache, true);
    assert.ok(second.cacheAge && durationMs(second.cacheAge) >= 15);
    assert.equal(verdict(second), "PROHIBITED");
    assert.deepEqual(COUNTRIES.map((cc) => reg(cc).calls.length), asked);
  });

  it("coalesces many concurrent lookups of one device into one upstream call per registry", async () => {
    const imei = fresh();
    for (const r of registries.values()) r.setDelay(50);
    const asked = COUNTRIES.map((cc) => reg(cc).askedKeys().length);
    const c = gw.client("police-jp");
    const answers = await Promise.all(Array.from({ length: 40 }, () => c.lookup({ imei, purpose: "case JP-1" })));
    assert.ok(answers.every((a) => verdict(a) === "PERMITTED"));
    assert.deepEqual(
      COUNTRIES.map((cc, i) => reg(cc).askedKeys().length - asked[i]!),
      COUNTRIES.map(() => 1),
    );
  });

  it("opens a failing registry's circuit (fails fast as CIRCUIT_OPEN) and uses it again once it recovers", async () => {
    reg("US").fail(new ImeifedError(Code.UNAVAILABLE, "UNAVAILABLE", "database is down"));
    const c = gw.client("police-br");
    const reasons: string[] = [];
    for (let i = 0; i < 5; i++) reasons.push(...unanswered(await c.lookup({ imei: fresh(), purpose: "case BR-1" })));
    assert.deepEqual(reasons.slice(0, 3), ["US:UNAVAILABLE", "US:UNAVAILABLE", "US:UNAVAILABLE"]);
    assert.deepEqual(reasons.slice(3), ["US:CIRCUIT_OPEN", "US:CIRCUIT_OPEN"]);
    const callsWhileOpen = reg("US").calls.length;
    await c.lookup({ imei: fresh(), purpose: "case BR-1" });
    assert.equal(reg("US").calls.length, callsWhileOpen, "an open circuit makes no call");
    reg("US").fail(undefined);
    // Past the breaker's cool-down (300 ms in the test gateway) one call is let through; it succeeds and closes the circuit.
    const back = await waitFor("the circuit to let US be asked again", async () => {
      const r = await c.lookup({ imei: fresh(), purpose: "case BR-1" });
      return unanswered(r).length === 0 ? r : undefined;
    }, { timeoutMs: 3_000, intervalMs: 50 });
    assert.equal(verdict(back), "PERMITTED");
    assert.deepEqual(unanswered(await c.lookup({ imei: fresh(), purpose: "case BR-1" })), [], "closed again");
  });

  it("a failing registry affects only its own findings", async () => {
    const imei = fresh();
    reg("GB").list(imei);
    reg("ES").fail(new ImeifedError(Code.INTERNAL, "INTERNAL", "boom"));
    const r = await gw.client("police-us").lookup({ imei, purpose: "case US-1" });
    assert.deepEqual(unanswered(r), ["ES:UNAVAILABLE"]);
    assert.deepEqual(r.findings.map((f) => [f.finding?.country, f.stale]), [["GB", false]]);
  });

  it("GetRegistryKeys returns every registry's keys, merged too", async () => {
    const r = await gw.client("police-es").getRegistryKeys({});
    assert.deepEqual(r.registries.map((k) => k.country), COUNTRIES);
    assert.equal((JSON.parse(r.jwksJson) as { keys: unknown[] }).keys.length, 5);
  });
});
