import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { ClearReason, DeviceStatus, Reason } from "../../gen/imeifed/v1/device_pb.js";
import { Code, ImeifedError } from "../../errors/index.js";
import { createClient } from "../../rpc/index.js";
import { RegistryService } from "../../gen/imeifed/v1/registry_pb.js";
import { verifyAttestation } from "../../trust/attestation.js";
import { createTestTrust, DEFAULT_TEST_PRINCIPALS, type TestTrust } from "../support/trust-fixture.js";
import { reportRequest, startTestRegistry, type TestRegistry } from "../support/registry-fixture.js";
import { testDevice } from "./test-imeis.js";

async function expectError(promise: Promise<unknown>, code: Code, message?: RegExp): Promise<ImeifedError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ImeifedError, String(error));
    assert.equal(Code[error.code], Code[code], error.message);
    if (message) assert.match(error.message, message);
    return error;
  }
  assert.fail(`expected ${Code[code]}`);
}

const A = testDevice(1);
const B = testDevice(2);
const C = testDevice(3);

for (const db of ["sqlite", "postgres"] as const) {
  describe(`RegistryService over real sockets (${db})`, function () {
    let trust: TestTrust;
    let gb: TestRegistry;

    before(async () => {
      trust = await createTestTrust([...DEFAULT_TEST_PRINCIPALS, { id: "admin-es", kind: "admin", country: "ES" }]);
    });
    after(async () => trust.cleanup());
    beforeEach(async () => {
      gb = await startTestRegistry({ country: "GB", trust, db, config: { batchLimit: 50, cacheMaxAgeSec: 120 } });
    });
    afterEach(async () => gb.cleanup());

    describe("ReportDevice", () => {
      it("lists both IMEIs of a dual-SIM phone, found by IMEI, IMEISV and 14-digit body", async () => {
        const response = await gb.report({ imeis: [A.imei, B.imeisv], caseReference: "GB-1" });
        assert.deepEqual(
          response.devices.map((d) => [d.device?.deviceKey, d.device?.imei, d.created, d.sequence]),
          [
            [A.key, A.imei, true, 1n],
            [B.key, B.imei, true, 2n],
          ],
        );
        const police = gb.client("police-es");
        for (const form of [A.imei, A.imeisv, A.key, `imei-${B.imei}`, B.key]) {
          const { check } = await police.checkDevice({ imei: form, purpose: "ES-7" });
          assert.equal(check?.status, DeviceStatus.PROHIBITED, form);
        }
      });

      it("answers a replayed report with created false and writes no change", async () => {
        const request = reportRequest({ imeis: [A.imei], caseReference: "GB-1" });
        const client = gb.client("police-gb");
        const first = await client.reportDevice(request);
        const again = await client.reportDevice(request);
        assert.equal(again.devices[0]!.created, false);
        assert.equal(again.devices[0]!.recordId, first.devices[0]!.recordId);
        assert.equal(again.devices[0]!.sequence, first.devices[0]!.sequence);
        assert.equal(await gb.registry.store.lastSequence(), 1);
      });

      it("takes the reporting agency from the verified token, and marks a report with a crime reference verified", async () => {
        await gb.report({ imeis: [A.imei], by: "police-gb", crimeReference: "CR/1" });
        await gb.report({ imeis: [B.imei], by: "police-gb", crimeReference: "" });
        const client = gb.client("police-gb");
        const { check: a } = await client.checkDevice({ imei: A.imei, purpose: "CASE-1" });
        const { check: b } = await client.checkDevice({ imei: B.imei, purpose: "CASE-1" });
        assert.equal(a?.finding?.reportingAgency, "police-gb");
        assert.equal(a?.finding?.verified, true);
        assert.equal(b?.finding?.verified, false);
      });

      it("refuses to re-report a cleared case, telling the caller to use a new case reference", async () => {
        const client = gb.client("police-gb");
        await client.reportDevice(reportRequest({ imeis: [A.imei], caseReference: "GB-1" }));
        await client.clearDevice({ imei: A.imei, caseReference: "GB-1", reason: ClearReason.RECOVERED });
        await expectError(client.reportDevice(reportRequest({ imeis: [A.imei], caseReference: "GB-1" })), Code.FAILED_PRECONDITION, /new case reference/);
        const fresh = await client.reportDevice(reportRequest({ imeis: [A.imei], caseReference: "GB-2" }));
        assert.equal(fresh.devices[0]!.created, true);
      });

      it("refuses a malformed report with INVALID_ARGUMENT naming the field", async () => {
        const client = gb.client("police-gb");
        const good = reportRequest({ imeis: [A.imei] });
        const cases: Array<[object, RegExp]> = [
          [{ imeis: [] }, /^imeis: /],
          [{ imeis: [A.imei, "3569380300001"] }, /^imeis\[1\]: has 13 digits/],
          [{ imeis: [A.imei.slice(0, 14) + "9"] }, /^imeis\[0\]: fails the Luhn check/],
          [{ status: DeviceStatus.PERMITTED }, /^status: /],
          [{ reason: Reason.UNSPECIFIED }, /^reason: /],
          [{ caseReference: "  " }, /^case_reference: /],
          [{ occurredAt: timestampFromDate(new Date(Date.now() + 86_400_000)) }, /^occurred_at: .*future/],
          [{ make: "x".repeat(101) }, /^make: /],
        ];
        for (const [change, message] of cases) {
          await expectError(client.reportDevice({ ...good, ...change }), Code.INVALID_ARGUMENT, message);
        }
        assert.equal(await gb.registry.store.lastSequence(), 0);
      });

      it("admits only callers whose token carries devices:report", async () => {
        await expectError(gb.client("customs-gb").reportDevice(reportRequest({ imeis: [A.imei] })), Code.PERMISSION_DENIED, /devices:report/);
        const anonymous = createClient(RegistryService, gb.registry.address);
        try {
          await expectError(anonymous.reportDevice(reportRequest({ imeis: [A.imei] })), Code.UNAUTHENTICATED);
          // GetKeys is public: anyone may fetch the keys that verify attestations.
          const keys = await anonymous.getKeys({});
          assert.equal(keys.country, "GB");
          assert.ok((JSON.parse(keys.jwksJson) as { keys: unknown[] }).keys.length >= 1);
        } finally {
          anonymous.close();
        }
      });
    });

    describe("ClearDevice", () => {
      it("lets only the reporting agency clear, refusing others alike whether or not the device is listed", async () => {
        await gb.report({ imeis: [A.imei], by: "police-gb", caseReference: "GB-1" });
        const es = gb.client("police-es");
        const listed = await expectError(es.clearDevice({ imei: A.imei, reason: ClearReason.RECOVERED }), Code.PERMISSION_DENIED);
        const unlisted = await expectError(es.clearDevice({ imei: C.imei, reason: ClearReason.RECOVERED }), Code.PERMISSION_DENIED);
        assert.equal(listed.message.replace(/\d{8}\*+\d{2}/, "D"), unlisted.message.replace(/\d{8}\*+\d{2}/, "D"));
        const cleared = await gb.client("police-gb").clearDevice({ imei: A.imeisv, reason: ClearReason.RETURNED, note: "owner has it" });
        assert.equal(cleared.status, DeviceStatus.PERMITTED);
        assert.equal(cleared.clearedRecordIds.length, 1);
        assert.equal(cleared.device?.deviceKey, A.key);
        const { check } = await es.checkDevice({ imei: A.imei, purpose: "CASE-1" });
        assert.equal(check?.status, DeviceStatus.PERMITTED);
        assert.equal(check?.finding, undefined);
      });

      it("leaves the device held by another agency's record after one agency clears", async () => {
        await gb.report({ imeis: [A.imei], by: "police-gb", status: DeviceStatus.PROHIBITED });
        await gb.report({ imeis: [A.imei], by: "police-es", status: DeviceStatus.TRACKED });
        const cleared = await gb.client("police-gb").clearDevice({ imei: A.imei, reason: ClearReason.RECOVERED });
        assert.equal(cleared.status, DeviceStatus.TRACKED);
        const { check } = await gb.client("police-jp").checkDevice({ imei: A.imei, purpose: "CASE-1" });
        assert.equal(check?.finding?.reportingAgency, "police-es");
      });

      it("lets this registry's administrator clear any record, but not another country's administrator", async () => {
        await gb.report({ imeis: [A.imei], by: "police-gb" });
        await expectError(gb.client("admin-es").clearDevice({ imei: A.imei, reason: ClearReason.REPORTED_IN_ERROR }), Code.PERMISSION_DENIED);
        const cleared = await gb.client("admin-gb").clearDevice({ imei: A.imei, reason: ClearReason.REPORTED_IN_ERROR, note: "duplicate" });
        assert.equal(cleared.status, DeviceStatus.PERMITTED);
        await expectError(gb.client("admin-gb").clearDevice({ imei: A.imei, reason: ClearReason.RECOVERED }), Code.FAILED_PRECONDITION, /nothing to clear/);
      });

      it("asks for a reason", async () => {
        await gb.report({ imeis: [A.imei] });
        await expectError(gb.client("police-gb").clearDevice({ imei: A.imei }), Code.INVALID_ARGUMENT, /^reason: /);
        await expectError(gb.client("police-gb").clearDevice({ imei: "123", reason: ClearReason.RECOVERED }), Code.INVALID_ARGUMENT, /^imei: /);
      });
    });

    describe("CheckDevice and CheckDevices", () => {
      it("answers PROHIBITED over TRACKED, and the newest report among equals", async () => {
        await gb.report({ imeis: [A.imei], by: "police-gb", status: DeviceStatus.TRACKED, reason: Reason.LOST });
        let { check } = await gb.client("police-es").checkDevice({ imei: A.imei, purpose: "CASE-1" });
        assert.equal(check?.status, DeviceStatus.TRACKED);
        await gb.report({ imeis: [A.imei], by: "police-es", status: DeviceStatus.PROHIBITED, reason: Reason.STOLEN });
        await gb.report({ imeis: [A.imei], by: "police-jp", status: DeviceStatus.PROHIBITED, reason: Reason.FRAUD });
        ({ check } = await gb.client("police-es").checkDevice({ imei: A.imei, purpose: "CASE-1" }));
        assert.equal(check?.status, DeviceStatus.PROHIBITED);
        assert.equal(check?.finding?.reason, Reason.FRAUD);
        assert.equal(check?.finding?.reportingAgency, "police-jp");
      });

      it("answers a batch in request order, duplicates included, each with the configured cache bound", async () => {
        await gb.report({ imeis: [A.imei], status: DeviceStatus.PROHIBITED });
        await gb.report({ imeis: [C.imei], status: DeviceStatus.TRACKED });
        const { checks } = await gb.client("gateway").checkDevices({ imeis: [C.imei, B.imei, A.imeisv, C.key], purpose: "manifest M-1" });
        assert.deepEqual(
          checks.map((c) => [c.deviceKey, c.status, c.finding?.status]),
          [
            [C.key, DeviceStatus.TRACKED, DeviceStatus.TRACKED],
            [B.key, DeviceStatus.PERMITTED, undefined],
            [A.key, DeviceStatus.PROHIBITED, DeviceStatus.PROHIBITED],
            [C.key, DeviceStatus.TRACKED, DeviceStatus.TRACKED],
          ],
        );
        for (const c of checks) assert.equal(c.cacheMaxAge?.seconds, 120n);
      });

      it("answers a listed_only batch sparsely: the listed devices' checks at their positions, every other one PERMITTED for the cache bound", async () => {
        await gb.report({ imeis: [A.imei], status: DeviceStatus.PROHIBITED });
        await gb.report({ imeis: [C.imei], status: DeviceStatus.TRACKED });
        const client = gb.client("gateway");
        const sparse = await client.checkDevices({ imeis: [C.imei, B.imei, A.imeisv, C.key, B.key], purpose: "manifest M-2", listedOnly: true });
        assert.deepEqual(sparse.listedIndexes, [0, 2, 3]);
        assert.deepEqual(
          sparse.checks.map((c) => [c.deviceKey, c.status, c.finding?.status, c.cacheMaxAge?.seconds]),
          [
            [C.key, DeviceStatus.TRACKED, DeviceStatus.TRACKED, 120n],
            [A.key, DeviceStatus.PROHIBITED, DeviceStatus.PROHIBITED, 120n],
            [C.key, DeviceStatus.TRACKED, DeviceStatus.TRACKED, 120n],
          ],
        );
        assert.equal(sparse.unlistedCacheMaxAge?.seconds, 120n);
        // A batch with nothing listed and one with everything listed still say they are sparse.
        const clean = await client.checkDevices({ imeis: [B.imei], purpose: "manifest M-2", listedOnly: true });
        assert.deepEqual([clean.checks.length, clean.listedIndexes, clean.unlistedCacheMaxAge?.seconds], [0, [], 120n]);
        const allListed = await client.checkDevices({ imeis: [A.imei, C.imei], purpose: "manifest M-2", listedOnly: true });
        assert.deepEqual([allListed.checks.length, allListed.listedIndexes, allListed.unlistedCacheMaxAge?.seconds], [2, [0, 1], 120n]);
        // Without the flag: the full answer, which never carries the sparse marker.
        const full = await client.checkDevices({ imeis: [C.imei, B.imei], purpose: "manifest M-2" });
        assert.deepEqual([full.checks.length, full.listedIndexes, full.unlistedCacheMaxAge], [2, [], undefined]);
      });

      it("places many listed devices of a batch as it places a few, in a sparse and a full answer alike", async () => {
        const listed = Array.from({ length: 20 }, (_, n) => testDevice(100 + n));
        for (const d of listed) await gb.report({ imeis: [d.imei], status: DeviceStatus.PROHIBITED });
        const clean = Array.from({ length: 20 }, (_, n) => testDevice(200 + n));
        // Listed and clean devices interleaved, a listed one asked twice: more than a handful of listed keys.
        const imeis = [...listed.flatMap((d, n) => [d.imei, clean[n]!.imei]), listed[3]!.key];
        const client = gb.client("gateway");
        const full = await client.checkDevices({ imeis: imeis.slice(0, 50), purpose: "manifest M-3" });
        const sparse = await client.checkDevices({ imeis: imeis.slice(0, 50), purpose: "manifest M-3", listedOnly: true });
        const expected = imeis.slice(0, 50).flatMap((_, i) => (i % 2 === 0 || i === 40 ? [i] : []));
        assert.deepEqual(sparse.listedIndexes, expected);
        assert.deepEqual(
          sparse.checks.map((c) => c.deviceKey),
          expected.map((i) => full.checks[i]!.deviceKey),
        );
        assert.ok(full.checks.every((c, i) => (expected.includes(i) ? c.status === DeviceStatus.PROHIBITED : c.status === DeviceStatus.PERMITTED)));
      });

      it("audits a sparse and a full answer to the same batch alike, and holds a sparse one to the batch limit", async () => {
        await gb.report({ imeis: [A.imei], status: DeviceStatus.PROHIBITED });
        const client = gb.client("gateway", { act: { id: "customs-gb", kind: "customs", country: "GB" } });
        const imeis = [B.imei, A.imei, C.imei, B.key];
        await client.checkDevices({ imeis, purpose: "manifest 10" });
        await client.checkDevices({ imeis, purpose: "manifest 10", listedOnly: true });
        const batches = (await gb.registry.audit.query({})).filter((e) => e.method === "CheckDevices");
        assert.equal(batches.length, 2);
        const [full, sparse] = batches.map((e) => [e.verdict, e.batchDigest, e.batchSize, e.purpose, e.actor]);
        assert.deepEqual(sparse, full);
        assert.equal(full![0], "PERMITTED:3 PROHIBITED:1");
        await expectError(client.checkDevices({ imeis: Array.from({ length: 51 }, () => B.imei), purpose: "p", listedOnly: true }), Code.INVALID_ARGUMENT, /at most 50/);
      });

      it("refuses a batch over the limit with INVALID_ARGUMENT naming the limit, and a bad IMEI naming its index", async () => {
        const client = gb.client("gateway");
        const many = Array.from({ length: 51 }, (_, i) => testDevice(100 + i).imei);
        await expectError(client.checkDevices({ imeis: many, purpose: "CASE-1" }), Code.INVALID_ARGUMENT, /holds 51 IMEIs; this registry answers at most 50/);
        const fifty = many.slice(0, 50);
        assert.equal((await client.checkDevices({ imeis: fifty, purpose: "CASE-1" })).checks.length, 50);
        const bad = [...fifty.slice(0, 7), "abc", ...fifty.slice(8)];
        await expectError(client.checkDevices({ imeis: bad, purpose: "CASE-1" }), Code.INVALID_ARGUMENT, /^imeis\[7\]: .*non-digit/);
      });

      it("shows the case reference verbatim to its agency only; others get the keyed hash", async () => {
        await gb.report({ imeis: [A.imei], by: "police-gb", caseReference: "GB/2025/0042" });
        const own = (await gb.client("police-gb").checkDevice({ imei: A.imei, purpose: "CASE-1" })).check!.finding!;
        const foreign = (await gb.client("police-es").checkDevice({ imei: A.imei, purpose: "CASE-1" })).check!.finding!;
        assert.equal(own.caseToken, "GB/2025/0042");
        const expected = createHmac("sha256", gb.registry.store.caseTokenSecret).update("police-gb").update("\u0000").update("GB/2025/0042").digest("base64url");
        assert.equal(foreign.caseToken, expected);
        assert.match(foreign.caseToken, /^[A-Za-z0-9_-]{43}$/);
      });

      it("applies the sharing policy to the real requester, through a gateway too", async () => {
        await gb.report({ imeis: [A.imei], by: "police-gb" });
        const customs = (await gb.client("customs-gb").checkDevice({ imei: A.imei, purpose: "CASE-1" })).check!.finding!;
        assert.equal(customs.reportingAgency, "");
        assert.equal(customs.caseToken, "");
        assert.deepEqual([...customs.withheldFields].sort(), ["case_token", "reporting_agency"]);
        const relayed = gb.client("gateway", { act: { id: "police-es", kind: "police", country: "ES" } });
        const forPolice = (await relayed.checkDevice({ imei: A.imei, purpose: "CASE-1" })).check!.finding!;
        assert.equal(forPolice.reportingAgency, "police-gb");
        const forCustoms = gb.client("gateway", { act: { id: "customs-gb", kind: "customs", country: "GB" } });
        assert.equal((await forCustoms.checkDevice({ imei: A.imei, purpose: "CASE-1" })).check!.finding!.reportingAgency, "");
      });

      it("never returns the owner's contact", async () => {
        const client = gb.client("police-gb");
        await client.reportDevice({ ...reportRequest({ imeis: [A.imei] }), ownerContact: { name: "Ada Owner", phone: "+44 20 7946 0000", email: "ada@example.org" } });
        const answers = [
          await client.checkDevice({ imei: A.imei, purpose: "CASE-1" }),
          await client.checkDevices({ imeis: [A.imei], purpose: "CASE-1" }),
          await client.reportDevice({ ...reportRequest({ imeis: [A.imei] }), caseReference: "other" }),
        ];
        const text = JSON.stringify(answers, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v));
        assert.doesNotMatch(text, /Ada Owner|ada@example|7946/);
      });

      it("signs each finding with a key GetKeys publishes", async () => {
        await gb.report({ imeis: [A.imei], by: "police-gb", crimeReference: "CR/9", status: DeviceStatus.PROHIBITED, reason: Reason.STOLEN });
        const finding = (await gb.client("police-es").checkDevice({ imei: A.imei, purpose: "CASE-1" })).check!.finding!;
        const { jwksJson } = await gb.client("police-es").getKeys({});
        const claims = await verifyAttestation(finding.attestation, JSON.parse(jwksJson) as never);
        assert.equal(claims.device_key, A.key);
        assert.equal(claims.status, "PROHIBITED");
        assert.equal(claims.reason, "STOLEN");
        assert.equal(claims.verified, true);
        assert.equal(claims.registry, "GB");
        assert.equal(claims.iss, "registry-gb");
      });

      it("puts every device question in the audit log, with a digest for batches", async () => {
        await gb.report({ imeis: [A.imei] });
        await gb.client("police-es").checkDevice({ imei: A.imei, purpose: "ES-case-7" });
        await gb.client("gateway", { act: { id: "customs-gb", kind: "customs", country: "GB" } }).checkDevices({ imeis: [A.imei, B.imei], purpose: "manifest 9" });
        const entries = await gb.registry.audit.query({});
        const check = entries.find((e) => e.method === "CheckDevice")!;
        assert.equal(check.principal, "police-es");
        assert.equal(check.deviceKey, A.key);
        assert.equal(check.purpose, "ES-case-7");
        assert.equal(check.verdict, "PROHIBITED");
        const batch = entries.find((e) => e.method === "CheckDevices")!;
        assert.equal(batch.principal, "gateway");
        assert.equal(batch.actor, "customs-gb");
        assert.equal(batch.batchSize, 2);
        assert.match(batch.batchDigest ?? "", /^[0-9a-f]{64}$/);
        assert.equal(batch.deviceKey, null);
      });
    });
  });
}

describe("RegistryService sharing refusals", () => {
  let trust: TestTrust;
  let gb: TestRegistry;
  before(async () => {
    trust = await createTestTrust();
    gb = await startTestRegistry({
      country: "GB",
      trust,
      config: { sharing: { rules: [{ kind: "police", withhold: [] }, { country: "JP", share: "none" }] } },
      seed: [{ imeis: [A.imei] }],
    });
  });
  after(async () => {
    await gb.cleanup();
    await trust.cleanup();
  });

  it("refuses a requester the policy shares nothing with, listed device or not", async () => {
    const jp = gb.client("police-jp");
    await expectError(jp.checkDevice({ imei: A.imei, purpose: "CASE-1" }), Code.PERMISSION_DENIED, /sharing policy/);
    await expectError(jp.checkDevice({ imei: B.imei, purpose: "CASE-1" }), Code.PERMISSION_DENIED, /sharing policy/);
    await expectError(jp.checkDevices({ imeis: [B.imei], purpose: "CASE-1" }), Code.PERMISSION_DENIED, /sharing policy/);
    const stream = gb.client("gateway", { act: { id: "police-jp", kind: "police", country: "JP" } }).watchChanges({ afterSequence: 0n });
    await expectError((async () => { for await (const _ of stream) break; })(), Code.PERMISSION_DENIED, /sharing policy/);
    assert.equal((await gb.client("police-es").checkDevice({ imei: A.imei, purpose: "CASE-1" })).check?.status, DeviceStatus.PROHIBITED);
  });
});
