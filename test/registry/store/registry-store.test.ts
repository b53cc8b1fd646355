import assert from "node:assert/strict";
import { ClearReason, DeviceStatus, Reason } from "../../../gen/imeifed/v1/device_pb.js";
import { ChangeKind, SightingKind } from "../../../gen/imeifed/v1/registry_pb.js";
import { Code } from "../../../errors/index.js";
import type { DeviceKey } from "../../../device/index.js";
import type { ImportRow, RegistryStore, ReportInput, SightingInput } from "../../../services/registry/store/registry-store.js";
import { createBackend, keyOf, type BackendName, type TestBackend } from "../store-backends.js";
import { rejectsWith } from "../../support/rejections.js";

const K1 = keyOf("35693803", 1) as DeviceKey;
const K2 = keyOf("35693803", 2) as DeviceKey;
const K3 = keyOf("86012345", 3) as DeviceKey;

function report(overrides: Partial<ReportInput> = {}): ReportInput {
  return {
    agency: "police-gb",
    caseReference: "CASE-1",
    deviceKeys: [K1],
    status: DeviceStatus.PROHIBITED,
    reason: Reason.STOLEN,
    sourceReasonCode: "0011",
    occurredAt: Date.parse("2025-03-01T10:00:00Z"),
    make: "Acme",
    model: "Phone 9",
    crimeReference: "CR/2025/1",
    owner: { name: "Ada Owner", phone: "+44 20 7946 0000", email: "ada@example.org" },
    ...overrides,
  };
}

function sighting(key: DeviceKey, overrides: Partial<SightingInput> = {}): SightingInput {
  return {
    deviceKey: key,
    kind: SightingKind.LOOKUP_HIT,
    seenInCountry: "ES",
    partnerKind: "police",
    partnerId: "police-es",
    seenAt: Date.now(),
    purpose: "case ES-42",
    found: undefined,
    ...overrides,
  };
}

async function* rowsOf(rows: ImportRow[], failAfter?: { line: number; error: Error }): AsyncIterable<ImportRow> {
  for (const row of rows) {
    if (failAfter && row.line === failAfter.line) throw failAfter.error;
    yield row;
  }
}

for (const backendName of ["sqlite", "postgres"] as BackendName[]) {
  describe(`registry store (${backendName})`, function () {
    let backend: TestBackend;
    let store: RegistryStore;

    beforeEach(async () => {
      backend = await createBackend(backendName);
      store = await backend.open();
    });
    afterEach(async () => backend.cleanup());

    it("lists every device key of a dual-SIM report and numbers one change per key", async () => {
      const outcomes = await store.report(report({ deviceKeys: [K1, K2] }));
      assert.deepEqual(outcomes.map((o) => [o.record.deviceKey, o.created, o.sequence]), [[K1, true, 1], [K2, true, 2]]);
      const changes = await store.changesAfter(0, 10);
      assert.deepEqual(changes.map((c) => [c.seq, c.kind, c.deviceKey, c.status, c.record.id, c.holding?.id]), [
        [1, ChangeKind.REPORTED, K1, DeviceStatus.PROHIBITED, outcomes[0]!.record.id, outcomes[0]!.record.id],
        [2, ChangeKind.REPORTED, K2, DeviceStatus.PROHIBITED, outcomes[1]!.record.id, outcomes[1]!.record.id],
      ]);
      assert.equal(await store.lastSequence(), 2);
      const record = outcomes[0]!.record;
      assert.equal(record.agency, "police-gb");
      assert.equal(record.crimeReference, "CR/2025/1");
      assert.equal(record.occurredAt, Date.parse("2025-03-01T10:00:00Z"));
    });

    it("treats the same agency, case and device as a replay that writes nothing", async () => {
      const [first] = await store.report(report());
      const [again] = await store.report(report({ make: "Other" }));
      assert.equal(again!.created, false);
      assert.equal(again!.record.id, first!.record.id);
      assert.equal(again!.sequence, first!.sequence);
      assert.equal(await store.lastSequence(), 1);
      // Another agency's case on the same device is a record of its own.
      const [other] = await store.report(report({ agency: "police-es", caseReference: "ES-1" }));
      assert.equal(other!.created, true);
      assert.equal(await store.lastSequence(), 2);
    });

    it("refuses to re-report a cleared case and keeps nothing of that report", async () => {
      await store.report(report());
      await store.clear({ deviceKey: K1, requester: "police-gb", isAdmin: false, caseReference: "CASE-1", reason: ClearReason.RECOVERED, note: "" });
      const before = await store.lastSequence();
      // K2 comes first in the report and would be new; the cleared K1 must roll it back.
      const error = await rejectsWith(store.report(report({ deviceKeys: [K2, K1] })), Code.FAILED_PRECONDITION, "CASE_CLEARED");
      assert.match(error.message, /new case reference/);
      assert.equal(await store.lastSequence(), before);
      assert.equal((await store.openRecords([K2])).size, 0);
    });

    it("answers PROHIBITED over TRACKED, and the newest report among equals", async () => {
      await store.report(report({ status: DeviceStatus.TRACKED, caseReference: "T-1", reportedAt: 3_000 }));
      await store.report(report({ agency: "police-es", caseReference: "P-OLD", reportedAt: 1_000 }));
      await store.report(report({ agency: "police-jp", caseReference: "P-NEW", reportedAt: 2_000 }));
      const changes = await store.changesAfter(0, 10);
      assert.deepEqual(changes.map((c) => c.status), [DeviceStatus.TRACKED, DeviceStatus.PROHIBITED, DeviceStatus.PROHIBITED]);
      assert.deepEqual(changes.map((c) => c.holding?.caseReference), ["T-1", "P-OLD", "P-NEW"]);
      const open = (await store.openRecords([K1])).get(K1)!;
      assert.equal(open.length, 3);
    });

    it("returns the open records of a batch of keys in one call, leaving out unlisted and cleared ones", async () => {
      await store.report(report({ deviceKeys: [K1, K2] }));
      await store.clear({ deviceKey: K2, requester: "police-gb", isAdmin: false, caseReference: "", reason: ClearReason.RETURNED, note: "" });
      const found = await store.openRecords([K1, K2, K3]);
      assert.deepEqual([...found.keys()], [K1]);
      assert.deepEqual(await store.openRecords([]), new Map());
      // One key alone takes its own query: the same answers.
      assert.equal((await store.openRecords([K2])).size, 0, "a cleared device alone");
      assert.deepEqual([...(await store.openRecords([K1])).keys()], [K1]);
    });

    it("returns each open record once when a batch asks about a device more than once", async () => {
      await store.report(report({ deviceKeys: [K1, K2] }));
      await store.report(report({ agency: "police-es", caseReference: "ES-1", deviceKeys: [K1] }));
      const found = await store.openRecords([K1, K3, K1, K2, K1]);
      assert.deepEqual([...found.keys()].sort(), [K1, K2].sort());
      assert.deepEqual(found.get(K1)!.map((r) => r.agency).sort(), ["police-es", "police-gb"]);
      assert.deepEqual(found.get(K2)!.map((r) => r.agency), ["police-gb"]);
    });

    it("lets only the reporting agency clear its record, without revealing other agencies' cases", async () => {
      await store.report(report());
      const listed = await rejectsWith(
        store.clear({ deviceKey: K1, requester: "police-es", isAdmin: false, caseReference: "", reason: ClearReason.RECOVERED, note: "" }),
        Code.PERMISSION_DENIED,
        "NOT_YOUR_RECORD",
      );
      const unlisted = await rejectsWith(
        store.clear({ deviceKey: K3, requester: "police-es", isAdmin: false, caseReference: "", reason: ClearReason.RECOVERED, note: "" }),
        Code.PERMISSION_DENIED,
        "NOT_YOUR_RECORD",
      );
      // The refusal reads the same whether or not someone else listed the device.
      assert.equal(listed.message.replace(/\d{8}\*+\d{2}/, "D"), unlisted.message.replace(/\d{8}\*+\d{2}/, "D"));
      assert.equal(await store.lastSequence(), 1);
    });

    it("keeps who cleared, when and why, and the status another agency's record still holds", async () => {
      const [gb] = await store.report(report({ status: DeviceStatus.PROHIBITED }));
      const [es] = await store.report(report({ agency: "police-es", caseReference: "ES-9", status: DeviceStatus.TRACKED }));
      const outcome = await store.clear({
        deviceKey: K1,
        requester: "police-gb",
        isAdmin: false,
        caseReference: "CASE-1",
        reason: ClearReason.RETURNED,
        note: "owner collected it",
        clearedAt: 5_000,
      });
      assert.deepEqual(outcome.cleared.map((r) => r.id), [gb!.record.id]);
      assert.equal(outcome.status, DeviceStatus.TRACKED);
      assert.equal(outcome.sequence, 3);
      assert.deepEqual(outcome.cleared[0]!.cleared, { at: 5_000, by: "police-gb", reason: ClearReason.RETURNED, note: "owner collected it", seq: 3 });
      const [change] = await store.changesAfter(2, 10);
      assert.equal(change!.kind, ChangeKind.CLEARED);
      assert.equal(change!.status, DeviceStatus.TRACKED);
      assert.equal(change!.record.id, gb!.record.id);
      assert.equal(change!.record.cleared?.by, "police-gb");
      assert.equal(change!.holding?.id, es!.record.id);
      // History is kept: the first change still names the (now cleared) record.
      const [first] = await store.changesAfter(0, 1);
      assert.equal(first!.record.cleared?.reason, ClearReason.RETURNED);
    });

    it("lets the administrator clear any agency's records, one change each", async () => {
      await store.report(report());
      await store.report(report({ agency: "police-es", caseReference: "ES-9" }));
      const outcome = await store.clear({ deviceKey: K1, requester: "admin-gb", isAdmin: true, caseReference: "", reason: ClearReason.REPORTED_IN_ERROR, note: "" });
      assert.equal(outcome.cleared.length, 2);
      assert.equal(outcome.status, DeviceStatus.PERMITTED);
      const changes = await store.changesAfter(2, 10);
      assert.deepEqual(changes.map((c) => [c.kind, c.status]), [
        [ChangeKind.CLEARED, DeviceStatus.PROHIBITED],
        [ChangeKind.CLEARED, DeviceStatus.PERMITTED],
      ]);
      await rejectsWith(
        store.clear({ deviceKey: K1, requester: "admin-gb", isAdmin: true, caseReference: "", reason: ClearReason.RECOVERED, note: "" }),
        Code.FAILED_PRECONDITION,
        "NOT_LISTED",
      );
    });

    it("answers a retried clearing as the first one did, without a new change", async () => {
      await store.report(report());
      const first = await store.clear({ deviceKey: K1, requester: "police-gb", isAdmin: false, caseReference: "CASE-1", reason: ClearReason.RECOVERED, note: "" });
      const again = await store.clear({ deviceKey: K1, requester: "police-gb", isAdmin: false, caseReference: "CASE-1", reason: ClearReason.RECOVERED, note: "" });
      assert.deepEqual(again.cleared.map((r) => r.id), first.cleared.map((r) => r.id));
      assert.equal(again.sequence, first.sequence);
      assert.equal(await store.lastSequence(), 2);
    });

    it("pages through changes in sequence order", async () => {
      for (let i = 0; i < 7; i++) await store.report(report({ caseReference: `C-${i}` }));
      const seen: number[] = [];
      let after = 0;
      for (;;) {
        const page = await store.changesAfter(after, 3);
        if (page.length === 0) break;
        seen.push(...page.map((c) => c.seq));
        after = page.at(-1)!.seq;
      }
      assert.deepEqual(seen, [1, 2, 3, 4, 5, 6, 7]);
    });

    it("keeps the first attestation saved for a change", async () => {
      await store.report(report());
      await store.saveChangeAttestations([{ seq: 1, attestation: "first" }]);
      await store.saveChangeAttestations([{ seq: 1, attestation: "second" }]);
      const [change] = await store.changesAfter(0, 1);
      assert.equal(change!.attestation, "first");
    });

    it("stores the owner's contact but never returns it", async () => {
      const [outcome] = await store.report(report());
      const rows = await backend.sql<{ owner_email: string }>("SELECT owner_email FROM records");
      assert.equal(rows[0]!.owner_email, "ada@example.org");
      const everything = JSON.stringify([outcome, await store.openRecords([K1]), await store.changesAfter(0, 10)].map((x) => (x instanceof Map ? [...x] : x)));
      assert.doesNotMatch(everything, /ada@example\.org|Ada Owner|7946/);
    });

    it("records a sighting against every open record, for each owning agency only", async () => {
      await store.report(report());
      await store.report(report({ agency: "police-es", caseReference: "ES-9" }));
      const [outcome] = await store.recordSightings([
        sighting(K1, { kind: SightingKind.FOUND, found: { location: "Madrid-Barajas", holdingAgency: "customs-es", contact: "+34 91 000", note: "" } }),
      ]);
      assert.equal(outcome!.recorded, true);
      assert.equal(outcome!.sequence, 2);
      const gb = await store.sightingsAfter("police-gb", 0, 10);
      const es = await store.sightingsAfter("police-es", 0, 10);
      assert.deepEqual(gb.map((s) => [s.caseReference, s.agency, s.found?.location]), [["CASE-1", "police-gb", "Madrid-Barajas"]]);
      assert.deepEqual(es.map((s) => s.caseReference), ["ES-9"]);
      assert.deepEqual(await store.sightingsAfter("police-gb", gb[0]!.seq, 10), []);
      assert.deepEqual(await store.recordSightings([sighting(K3)]), [{ recorded: false, sequence: 0 }]);
    });

    it("records a batch of sightings in one call, answering each in order", async () => {
      await store.report(report());
      await store.report(report({ agency: "police-es", caseReference: "ES-9" }));
      await store.report(report({ deviceKeys: [K2], caseReference: "CASE-2" }));
      assert.deepEqual(await store.recordSightings([]), []);
      const outcomes = await store.recordSightings([sighting(K3), sighting(K1, { purpose: "DEC-1" }), sighting(K2, { purpose: "DEC-2" }), sighting(K3)]);
      // K1 is held by two agencies (two rows: 1, 2), K2 by one (3); K3 by none.
      assert.deepEqual(outcomes, [
        { recorded: false, sequence: 0 },
        { recorded: true, sequence: 2 },
        { recorded: true, sequence: 3 },
        { recorded: false, sequence: 0 },
      ]);
      const gb = await store.sightingsAfter("police-gb", 0, 10);
      const es = await store.sightingsAfter("police-es", 0, 10);
      assert.deepEqual(gb.map((s) => [s.deviceKey, s.caseReference, s.purpose]), [
        [K1, "CASE-1", "DEC-1"],
        [K2, "CASE-2", "DEC-2"],
      ]);
      assert.deepEqual(es.map((s) => [s.deviceKey, s.caseReference, s.purpose]), [[K1, "ES-9", "DEC-1"]]);
      // K1's two rows took 1 and 2 (in whichever order the store lists its records), K2's took 3.
      assert.deepEqual([gb[0]!.seq, es[0]!.seq].sort(), [1, 2]);
      assert.equal(gb[1]!.seq, 3);
      // The next batch goes on from there.
      assert.deepEqual(await store.recordSightings([sighting(K2)]), [{ recorded: true, sequence: 4 }]);
    });

    it("imports rows in one transaction and counts replays", async () => {
      await store.report(report({ caseReference: "ALREADY" }));
      const rows: ImportRow[] = [
        { line: 2, report: report({ caseReference: "ALREADY" }) },
        { line: 3, report: report({ caseReference: "I-1", deviceKeys: [K2, K3] }) },
        { line: 4, report: report({ caseReference: "I-1", deviceKeys: [K2] }) },
        { line: 5, report: report({ agency: "police-es", caseReference: "I-2", status: DeviceStatus.TRACKED }) },
      ];
      const summary = await store.importReports(rowsOf(rows));
      assert.deepEqual(summary, { rows: 4, created: 3, replays: 2, lastSequence: 4 });
      const changes = await store.changesAfter(1, 10);
      assert.deepEqual(changes.map((c) => [c.seq, c.deviceKey, c.status, c.holding?.caseReference]), [
        [2, K2, DeviceStatus.PROHIBITED, "I-1"],
        [3, K3, DeviceStatus.PROHIBITED, "I-1"],
        // K1 stays PROHIBITED by the earlier report though the imported one is TRACKED.
        [4, K1, DeviceStatus.PROHIBITED, "ALREADY"],
      ]);
    });

    it("keeps nothing of an import that fails on a bad row", async () => {
      const rows: ImportRow[] = Array.from({ length: 12_000 }, (_, i) => ({
        line: i + 2,
        report: report({ caseReference: `BULK-${i}`, deviceKeys: [keyOf("35693803", i + 10) as DeviceKey] }),
      }));
      const bad = new Error("line 11000: bad row");
      await assert.rejects(store.importReports(rowsOf(rows, { line: 11_000, error: bad })), /line 11000/);
      assert.equal(await store.lastSequence(), 0);
      assert.deepEqual(await backend.sql("SELECT id FROM records"), []);
    });

    it("names the line of an imported row whose case was cleared", async () => {
      await store.report(report());
      await store.clear({ deviceKey: K1, requester: "police-gb", isAdmin: false, caseReference: "", reason: ClearReason.RECOVERED, note: "" });
      const rows: ImportRow[] = [
        { line: 2, report: report({ caseReference: "NEW", deviceKeys: [K2] }) },
        { line: 3, report: report() },
      ];
      const error = await rejectsWith(store.importReports(rowsOf(rows)), Code.FAILED_PRECONDITION, "CASE_CLEARED");
      assert.match(error.message, /^line 3: /);
      assert.equal(await store.lastSequence(), 2);
    });

    it("keeps its epoch, secret and sequence across a reopen", async () => {
      await store.report(report());
      const epoch = store.epoch;
      assert.match(epoch, /^[0-9a-f-]{36}$/);
      const secret = store.caseTokenSecret.toString();
      await store.close();
      store = await backend.open();
      assert.equal(store.epoch, epoch);
      assert.equal(store.caseTokenSecret.toString(), secret);
      const [next] = await store.report(report({ caseReference: "CASE-2" }));
      assert.equal(next!.sequence, 2);
      assert.equal(await store.metaSetIfAbsent("k", "v1"), "v1");
      assert.equal(await store.metaSetIfAbsent("k", "v2"), "v1");
      assert.equal(await store.meta("absent"), undefined);
    });

    it("wakes watchers of another store on the same data when a change commits", async () => {
      const other = await backend.open();
      const abort = new AbortController();
      const seen = other.changeFeed.version;
      const woken = other.changeFeed.wait(seen, abort.signal, 10_000);
      await store.report(report());
      assert.equal(await woken, true);
      assert.equal(await other.lastSequence(), 1);
      const seenSightings = other.sightingFeed.version;
      const sightingWoken = other.sightingFeed.wait(seenSightings, abort.signal, 10_000);
      await store.recordSightings([sighting(K1)]);
      assert.equal(await sightingWoken, true);
      abort.abort();
    });

    it("hands out sequences without gaps or duplicates under concurrent writers", async function () {
      // For SQLite the two stores are two connections (two writers on one file).
      const other = await backend.open();
      await Promise.all(
        Array.from({ length: 30 }, (_, i) => (i % 2 === 0 ? store : other).report(report({ caseReference: `RACE-${i}`, deviceKeys: [K1, K2] }))),
      );
      const changes = await store.changesAfter(0, 100);
      assert.deepEqual(
        changes.map((c) => c.seq),
        Array.from({ length: 60 }, (_, i) => i + 1),
      );
    });
  });
}
