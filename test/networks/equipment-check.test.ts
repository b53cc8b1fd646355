import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { DeviceStatus } from "../../gen/imeifed/v1/device_pb.js";
import { RegistryFindingSchema, UnansweredReason, UnansweredSchema } from "../../gen/imeifed/v1/federation_pb.js";
import type { FederatedAnswer } from "../../gateway/federation/federation-checker.js";
import type { TripwireHit } from "../../gateway/gateway-context.js";
import type { AuditEntry } from "../../trust/audit/index.js";
import type { Caller } from "../../trust/principal.js";
import { DEFAULT_OPERATOR_POLICY, EquipmentCheck, equipmentIdentityOf, frontPolicySchema, policyFor, type EquipmentVerdict } from "../../networks/index.js";
import { imeiOf } from "../screening/support/screening-federation.js";

const operator: Caller = {
  principal: { id: "operator-hk", name: "HK", country: "HK", kind: "operator", scopes: ["n5g-eir-eic"], tacPrefixes: [] },
  scopes: new Set(["n5g-eir-eic"]),
  expiresAt: Date.now() / 1000 + 600,
};
const links = ["GB", "ES", "US"].map((country) => ({ country }));

function listing(country: string, status: DeviceStatus, stale = false) {
  return create(RegistryFindingSchema, { finding: { country, status }, stale });
}

/** An equipment check over a checker that answers `answer` (or never, when undefined), recording what it was asked and what was audited and sent. */
function checkOver(answer: Omit<FederatedAnswer, "key" | "fromCache" | "ageMs"> | undefined) {
  const asked: { deadline: Date; purpose: string; requester: string }[] = [];
  const audited: AuditEntry[] = [];
  const hits: TripwireHit[] = [];
  const check = new EquipmentCheck({
    checker: {
      links: links as never,
      check: (key, opts) => {
        asked.push({ deadline: opts.deadline, purpose: opts.purpose, requester: opts.requester.id });
        return answer ? Promise.resolve({ key, fromCache: false, ageMs: 0, ...answer }) : new Promise<FederatedAnswer>(() => {});
      },
    },
    audit: { append: (entry) => void audited.push(entry) },
    tripwire: { hit: (hit) => void hits.push(hit) },
    server: "gateway",
    front: { method: "Test.Check", purpose: "test-front" },
  });
  return { check, asked, audited, hits };
}

const device = (body: string) => equipmentIdentityOf(imeiOf(body), "imei");

describe("the equipment check (networks/equipment-check.ts)", () => {
  it("reads 14, 15 and 16 digits: only a 15-digit IMEI carries a check digit", () => {
    assert.deepEqual(equipmentIdentityOf("35693803000086", "imei"), { body: "35693803000086", checkDigit: "absent" });
    assert.deepEqual(equipmentIdentityOf(imeiOf("35693803000086"), "imei"), { body: "35693803000086", checkDigit: "valid" });
    const wrongDigit = String((Number(imeiOf("35693803000086").slice(-1)) + 1) % 10);
    assert.deepEqual(equipmentIdentityOf(`35693803000086${wrongDigit}`, "imei"), { body: "35693803000086", checkDigit: "invalid" });
    assert.deepEqual(equipmentIdentityOf("3569380300008601", "imei"), { body: "35693803000086", checkDigit: "absent" });
    assert.throws(() => equipmentIdentityOf("3569380300008", "imei"), /14 digits/);
  });

  it("maps PROHIBITED to BLACKLISTED and TRACKED to GREYLISTED, PROHIBITED winning, and names the listings", async () => {
    const { check, hits } = checkOver({ findings: [listing("ES", DeviceStatus.TRACKED), listing("GB", DeviceStatus.PROHIBITED)], unanswered: [] });
    const verdict = await check.check({ device: device("35693803000086"), operator, policy: DEFAULT_OPERATOR_POLICY });
    assert.equal(verdict.status, "BLACKLISTED");
    assert.equal(verdict.basis, "finding");
    assert.deepEqual((verdict as Extract<EquipmentVerdict, { basis: "finding" }>).listings.map((l) => l.country), ["ES", "GB"]);
    assert.equal(hits.length, 1, "one sighting hit for the owning registries");
    assert.equal(hits[0]!.atHome, true);
    assert.equal(hits[0]!.repeatWindowMs, DEFAULT_OPERATOR_POLICY.sightingWindowMs);
    const tracked = await checkOver({ findings: [listing("ES", DeviceStatus.TRACKED)], unanswered: [] }).check.check({ device: device("35693803000086"), operator, policy: DEFAULT_OPERATOR_POLICY });
    assert.equal(tracked.status, "GREYLISTED");
  });

  it("tells 'listed nowhere' (every registry answered) apart from an answer by the unanswered policy", async () => {
    const known = await checkOver({ findings: [], unanswered: [] }).check.check({ device: device("35693803000086"), operator, policy: DEFAULT_OPERATOR_POLICY });
    assert.deepEqual(known, { status: "WHITELISTED", basis: "not-listed", unanswered: [] });
    const silent = create(UnansweredSchema, { country: "US", reason: UnansweredReason.DEADLINE });
    const policy = { ...DEFAULT_OPERATOR_POLICY, onUnanswered: "GREYLISTED" as const };
    const unknown = await checkOver({ findings: [], unanswered: [silent] }).check.check({ device: device("35693803000086"), operator, policy });
    assert.deepEqual(unknown, { status: "GREYLISTED", basis: "unanswered-policy", unanswered: ["US"] });
    const decided = await checkOver({ findings: [listing("GB", DeviceStatus.PROHIBITED, true)], unanswered: [silent] }).check.check({ device: device("35693803000086"), operator, policy });
    assert.equal(decided.status, "BLACKLISTED", "a stale finding of a registry that could not be asked still decides");
  });

  it("answers within the budget even when the checker never does, by the unanswered policy for every registry", async () => {
    const { check, asked, audited } = checkOver(undefined);
    const started = Date.now();
    const verdict = await check.check({ device: device("35693803000086"), operator, policy: { ...DEFAULT_OPERATOR_POLICY, budgetMs: 120 }, receivedAt: started });
    const elapsed = Date.now() - started;
    // The answer leaves at the budget less a small headroom; only a busy event loop's own lateness could add to it.
    assert.ok(elapsed < 120 + 20, `answered after ${elapsed} ms`);
    assert.deepEqual(verdict, { status: "WHITELISTED", basis: "unanswered-policy", unanswered: ["GB", "ES", "US"] });
    assert.equal(asked[0]!.deadline.getTime(), started + 120, "the checker works to the same budget");
    assert.equal(asked[0]!.purpose, "test-front");
    assert.equal(audited[0]!.verdict, "WHITELISTED unanswered-policy");
  });

  it("answers a bad check digit or an all-zero IMEI by the invalid-IMEI policy, asking no registry about all zeros", async () => {
    const wrong = { body: "35693803000086", checkDigit: "invalid" as const };
    assert.deepEqual(await checkOver({ findings: [], unanswered: [] }).check.check({ device: wrong, operator, policy: DEFAULT_OPERATOR_POLICY }), {
      status: "GREYLISTED",
      basis: "invalid-imei-policy",
      problem: "check-digit",
      unanswered: [],
    });
    const zeros = checkOver({ findings: [], unanswered: [] });
    const verdict = await zeros.check.check({ device: { body: "00000000000000", checkDigit: "absent" }, operator, policy: { ...DEFAULT_OPERATOR_POLICY, onInvalidImei: "BLACKLISTED" } });
    assert.equal(verdict.status, "BLACKLISTED");
    assert.equal(zeros.asked.length, 0);
    assert.equal(zeros.audited.length, 1, "audited all the same");
  });

  it("audits with the operator as principal and the front's method and purpose", async () => {
    const { check, audited } = checkOver({ findings: [], unanswered: [] });
    await check.check({ device: device("35693803000086"), operator, policy: DEFAULT_OPERATOR_POLICY });
    assert.equal(audited[0]!.principal, "operator-hk");
    assert.equal(audited[0]!.method, "Test.Check");
    assert.equal(audited[0]!.purpose, "test-front");
    assert.equal(audited[0]!.deviceKey, "35693803000086");
  });

  it("refuses to answer a check it could not audit (UNAVAILABLE)", async () => {
    const check = new EquipmentCheck({
      checker: { links: links as never, check: (key) => Promise.resolve({ key, findings: [], unanswered: [], fromCache: true, ageMs: 0 }) },
      audit: {
        append: () => {
          throw new Error("disk full");
        },
      },
      server: "gateway",
      front: { method: "Test.Check", purpose: "test-front" },
    });
    await assert.rejects(check.check({ device: device("35693803000086"), operator, policy: DEFAULT_OPERATOR_POLICY }), (e: { reason?: string }) => e.reason === "AUDIT_UNAVAILABLE");
  });
});

describe("operator policies (networks/operator-policy.ts)", () => {
  it("fills the documented defaults, reads durations with units, and lets an operator override its own fields", () => {
    const front = frontPolicySchema.parse({ sightingWindow: "15m", operators: { "operator-hk": { budgetMs: 300, sightingWindow: 90_000 } } });
    assert.deepEqual(policyFor(front, "operator-xx"), { budgetMs: 500, onUnanswered: "WHITELISTED", onInvalidImei: "GREYLISTED", sightingWindowMs: 900_000 });
    assert.deepEqual(policyFor(front, "operator-hk"), { budgetMs: 300, onUnanswered: "WHITELISTED", onInvalidImei: "GREYLISTED", sightingWindowMs: 90_000 });
    assert.equal(frontPolicySchema.safeParse({ onInvalidImei: "WHITELISTED" }).success, false, "an invalid IMEI is never WHITELISTED");
    assert.equal(frontPolicySchema.safeParse({ sightingWindow: "an hour" }).success, false);
    assert.equal(frontPolicySchema.safeParse({ operators: { "operator-hk": { budget: 1 } } }).success, false, "a misspelt field is refused");
  });
});

describe("the gateway config's networks section", () => {
  it("is optional, resolves the front's TLS files against the config's directory, and names a wrong field", async () => {
    const { parseGatewayConfig } = await import("../../gateway/config.js");
    const base = { id: "gateway", listen: "127.0.0.1:0", trustFile: "trust.json", key: "gw.jwk", registries: [{ country: "GB", id: "registry-gb", address: "127.0.0.1:1" }] };
    assert.deepEqual(parseGatewayConfig(base, "/etc/imeifed").networks, {});
    const config = parseGatewayConfig({ ...base, networks: { n5gEir: { listen: "0.0.0.0:8090", tls: { cert: "eir.pem", key: "eir.key" }, sightingWindow: "2h" } } }, "/etc/imeifed");
    assert.equal(config.networks.n5gEir!.tls!.cert, "/etc/imeifed/eir.pem");
    assert.equal(config.networks.n5gEir!.sightingWindow, 7_200_000);
    assert.equal(config.networks.n5gEir!.budgetMs, 500);
    assert.throws(() => parseGatewayConfig({ ...base, networks: { n5gEir: { listen: "0.0.0.0:8090", budgetMS: 10 } } }), /networks\.n5gEir/);
  });
});
