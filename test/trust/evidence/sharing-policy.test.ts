import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import fc from "fast-check";
import { DeviceStatus, FindingSchema, Reason, type Finding } from "../../../gen/imeifed/v1/device_pb.js";
import { PRINCIPAL_KINDS, requesterOf, type Actor, type Caller, type Principal } from "../../../trust/principal.js";
import {
  DEFAULT_SHARING_POLICY,
  WITHHOLDABLE_FIELDS,
  applySharing,
  sharingFor,
  sharingPolicySchema,
  sharingRefusal,
  type SharingPolicy,
} from "../../../trust/sharing-policy.js";

function fullFinding(): Finding {
  return create(FindingSchema, {
    country: "GB",
    deviceKey: "35693803123456",
    status: DeviceStatus.PROHIBITED,
    reason: Reason.STOLEN,
    sourceReasonCode: "0011",
    occurredAt: timestampFromDate(new Date("2025-02-01T21:00:00Z")),
    reportedAt: timestampFromDate(new Date("2025-02-02T09:00:00Z")),
    reportingAgency: "police-gb",
    verified: true,
    caseToken: "ct-abc",
    make: "Acme",
    model: "Phone 9",
    attestation: "eyJ.eyJ.sig",
  });
}

const actor = (id: string, kind: Actor["kind"], country: string): Actor => ({ id, kind, country });
const policeEs = actor("police-es", "police", "ES");
const customsGb = actor("customs-gb", "customs", "GB");
const oem = actor("oem-demo", "manufacturer", "KR");

function shared(result: ReturnType<typeof applySharing>): Finding {
  assert.ok("finding" in result, `expected a finding, got refusal ${"refused" in result ? result.refused : ""}`);
  return result.finding;
}

describe("sharing policy", () => {
  describe("the default policy", () => {
    it("shows police everything", () => {
      const f = shared(applySharing(fullFinding(), policeEs, DEFAULT_SHARING_POLICY));
      assert.equal(f.reportingAgency, "police-gb");
      assert.equal(f.caseToken, "ct-abc");
      assert.deepEqual(f.withheldFields, []);
    });

    for (const requester of [customsGb, oem]) {
      it(`withholds the reporting agency and case from ${requester.kind}, keeping the verdict`, () => {
        const f = shared(applySharing(fullFinding(), requester, DEFAULT_SHARING_POLICY));
        assert.equal(f.reportingAgency, "");
        assert.equal(f.caseToken, "");
        assert.deepEqual(f.withheldFields, ["case_token", "reporting_agency"]);
        assert.equal(f.status, DeviceStatus.PROHIBITED);
        assert.equal(f.reason, Reason.STOLEN);
        assert.equal(f.verified, true);
        assert.equal(f.make, "Acme");
        assert.equal(f.attestation, "eyJ.eyJ.sig");
      });
    }

    it("gives a kind no rule names no more than customs", () => {
      const f = shared(applySharing(fullFinding(), actor("pilot-x", "pilot", "FR"), DEFAULT_SHARING_POLICY));
      assert.deepEqual(f.withheldFields, ["case_token", "reporting_agency"]);
    });
  });

  it("applies to the real requester of a delegated call, not to the gateway", () => {
    const gateway: Principal = { id: "gateway", name: "Gateway", country: "EU", kind: "gateway", scopes: ["devices:check"], tacPrefixes: [] };
    const viaGateway: Caller = { principal: gateway, scopes: new Set(["devices:check"]), actor: customsGb, expiresAt: 0 };
    const policy = sharingPolicySchema.parse({ rules: [{ kind: "gateway", withhold: [] }, { kind: "customs", withhold: ["reporting_agency", "case_token", "make"] }] });
    const f = shared(applySharing(fullFinding(), requesterOf(viaGateway), policy));
    assert.deepEqual(f.withheldFields, ["case_token", "make", "reporting_agency"]);
    // The gateway's own, wider treatment is only used when it asks for itself.
    const own = shared(applySharing(fullFinding(), requesterOf({ ...viaGateway, actor: undefined }), policy));
    assert.deepEqual(own.withheldFields, []);
  });

  it("does not change the finding it is given", () => {
    const input = fullFinding();
    applySharing(input, customsGb, DEFAULT_SHARING_POLICY);
    assert.equal(input.reportingAgency, "police-gb");
    assert.deepEqual(input.withheldFields, []);
  });

  it("never widens: an already withheld field stays empty and stays named", () => {
    const input = fullFinding();
    input.caseToken = "";
    input.withheldFields = ["case_token"];
    const f = shared(applySharing(input, policeEs, DEFAULT_SHARING_POLICY));
    assert.equal(f.caseToken, "");
    assert.deepEqual(f.withheldFields, ["case_token"]);
  });

  it("withholds every named field, including occurred_at and the attestation", () => {
    const policy = sharingPolicySchema.parse({ rules: [{ kind: "customs", withhold: [...WITHHOLDABLE_FIELDS] }] });
    const f = shared(applySharing(fullFinding(), customsGb, policy));
    assert.equal(f.occurredAt, undefined);
    assert.equal(f.sourceReasonCode, "");
    assert.equal(f.make, "");
    assert.equal(f.model, "");
    assert.equal(f.attestation, "");
    assert.deepEqual(f.withheldFields, [...WITHHOLDABLE_FIELDS].sort());
  });

  describe("matching", () => {
    const policy = sharingPolicySchema.parse({
      default: { share: "none" },
      rules: [
        { kind: "police", withhold: [] },
        { country: "XX", share: "none" },
        { kind: "police", country: "XX", withhold: ["case_token"] },
        { kind: "customs", withhold: ["reporting_agency"] },
      ],
    });
    const table: Array<[string, Actor, string[] | "refused"]> = [
      ["kind rule", policeEs, []],
      ["kind+country beats country", actor("police-xx", "police", "XX"), ["case_token"]],
      ["country beats kind", actor("customs-xx", "customs", "XX"), "refused"],
      ["kind rule for another country", customsGb, ["reporting_agency"]],
      ["default when nothing matches", oem, "refused"],
      ["country compared in capitals", actor("customs-xx", "customs", "xx"), "refused"],
    ];
    for (const [name, requester, expected] of table) {
      it(name, () => {
        const result = applySharing(fullFinding(), requester, policy);
        if (expected === "refused") {
          assert.ok("refused" in result);
          assert.match(result.refused, new RegExp(`shares no findings with ${requester.kind} requesters from ${requester.country} \\(requester ${requester.id}\\)`));
          assert.ok(sharingRefusal(requester, policy));
        } else {
          assert.deepEqual(shared(result).withheldFields, expected);
          assert.equal(sharingRefusal(requester, policy), undefined);
        }
      });
    }

    it("names the rule that decided", () => {
      assert.equal(sharingFor(actor("police-xx", "police", "XX"), policy).rule, "rule kind=police country=XX");
      assert.equal(sharingFor(oem, policy).rule, "default");
    });
  });

  describe("schema", () => {
    it("fills the documented defaults", () => {
      const p = sharingPolicySchema.parse({});
      assert.deepEqual(p.default, { withhold: ["reporting_agency", "case_token"] });
      assert.deepEqual(p.rules.map((r) => r.kind), ["police", "customs", "manufacturer"]);
    });

    const bad: Array<[string, unknown, RegExp]> = [
      ["an unknown field name", { rules: [{ kind: "customs", withhold: ["owner_contact"] }] }, /rules\.0/],
      ["an unknown kind", { rules: [{ kind: "journalist", withhold: [] }] }, /rules\.0/],
      ["a lowercase country", { rules: [{ country: "gb", share: "none" }] }, /rules\.0/],
      ["share and withhold together", { rules: [{ kind: "customs", share: "none", withhold: [] }] }, /rules\.0/],
      ["share other than none", { rules: [{ kind: "customs", share: "all" }] }, /rules\.0/],
      ["two rules for the same pair", { rules: [{ kind: "customs", withhold: [] }, { kind: "customs", share: "none" }] }, /rules\[0\] and rules\[1\] both match kind customs and country any/],
      ["an unknown top-level key", { rule: [] }, /rule/],
    ];
    for (const [name, input, message] of bad) {
      it(`rejects ${name}`, () => {
        const result = sharingPolicySchema.safeParse(input);
        assert.equal(result.success, false);
        const text = result.error!.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ");
        assert.match(text, message);
      });
    }
  });

  it("never shows a field that was empty or withheld, for any policy and requester (property)", () => {
    const field = fc.constantFrom(...WITHHOLDABLE_FIELDS);
    const treatment = fc.oneof(fc.constant({ share: "none" as const }), fc.record({ withhold: fc.uniqueArray(field) }));
    const rule = fc.record({ kind: fc.option(fc.constantFrom(...PRINCIPAL_KINDS), { nil: undefined }), country: fc.option(fc.constantFrom("GB", "ES", "XX"), { nil: undefined }) });
    const policies = fc
      .record({ default: treatment, rules: fc.uniqueArray(fc.tuple(rule, treatment), { selector: ([r]) => `${r.kind}/${r.country}` }) })
      .map(({ default: d, rules }) => sharingPolicySchema.parse({ default: d, rules: rules.map(([r, t]) => ({ ...(r.kind ? { kind: r.kind } : {}), ...(r.country ? { country: r.country } : {}), ...t })) }));
    const requesters = fc.record({ id: fc.constant("p"), kind: fc.constantFrom(...PRINCIPAL_KINDS), country: fc.constantFrom("GB", "ES", "XX", "JP") });
    const inputs = fc.record({ blank: fc.uniqueArray(field), already: fc.uniqueArray(field) });
    fc.assert(
      fc.property(policies, requesters, inputs, (policy: SharingPolicy, requester, { blank, already }) => {
        const input = fullFinding();
        const cleared = applySharing(input, requester, sharingPolicySchema.parse({ rules: [{ kind: requester.kind, withhold: [...blank, ...already] }] }));
        const start = shared(cleared);
        start.withheldFields = already;
        const result = applySharing(start, requester, policy);
        if ("refused" in result) return;
        const out = result.finding;
        for (const name of blank) assert.ok(!hasValue(out, name), `${name} reappeared`);
        for (const name of already) assert.ok(out.withheldFields.includes(name), `${name} no longer named`);
        for (const name of out.withheldFields) assert.ok(!hasValue(out, name as never), `${name} named but shown`);
      }),
      { numRuns: 300 },
    );
  });
});

function hasValue(f: Finding, field: (typeof WITHHOLDABLE_FIELDS)[number]): boolean {
  switch (field) {
    case "reporting_agency":
      return f.reportingAgency !== "";
    case "case_token":
      return f.caseToken !== "";
    case "occurred_at":
      return f.occurredAt !== undefined;
    case "make":
      return f.make !== "";
    case "model":
      return f.model !== "";
    case "source_reason_code":
      return f.sourceReasonCode !== "";
    case "attestation":
      return f.attestation !== "";
  }
}
