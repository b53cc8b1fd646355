import assert from "node:assert/strict";
import { ClearReason, DeviceStatus } from "../../gen/imeifed/v1/device_pb.js";
import { ChangeKind, type WatchChangesResponse } from "../../gen/imeifed/v1/registry_pb.js";
import { Code, ImeifedError } from "../../errors/index.js";
import { verifyAttestation } from "../../trust/attestation.js";
import { openPostgresStore } from "../../services/registry/store/postgres-store.js";
import type { ImportRow } from "../../services/registry/store/registry-store.js";
import { createTestTrust, type TestTrust } from "../support/trust-fixture.js";
import { startTestRegistry, TEST_POSTGRES_URL, type TestRegistry } from "../support/registry-fixture.js";
import { readStream } from "./stream-reader.js";
import { testDevice } from "./test-imeis.js";
import { storeReport } from "../support/registry-fixture.js";
import { eventually } from "../support/waiting.js";

const A = testDevice(11);
const B = testDevice(12);

function change(message: WatchChangesResponse) {
  assert.equal(message.event.case, "change", `expected a change, got ${message.event.case}`);
  return message.event.value as Extract<WatchChangesResponse["event"], { case: "change" }>["value"];
}

async function* importRows(count: number): AsyncIterable<ImportRow> {
  for (let i = 0; i < count; i++) {
    yield {
      line: i + 2,
      report: storeReport(testDevice(1000 + i).key, { caseReference: `BULK-${i}` }),
    };
  }
}

for (const db of ["sqlite", "postgres"] as const) {
  describe(`WatchChanges (${db})`, function () {
    let trust: TestTrust;
    let gb: TestRegistry;
    let abort: AbortController;

    before(async () => {
      trust = await createTestTrust();
    });
    after(async () => trust.cleanup());
    beforeEach(async () => {
      gb = await startTestRegistry({ country: "GB", trust, db });
      abort = new AbortController();
    });
    afterEach(async () => {
      abort.abort();
      await gb.cleanup();
    });

    const watch = (afterSequence = 0n, epoch = "") => readStream(gb.client("gateway").watchChanges({ afterSequence, epoch }, { signal: abort.signal }));

    it("replays from 0, marks caught_up, then pushes a new report within a second; every message carries the epoch", async () => {
      await gb.report({ imeis: [A.imei, B.imei] });
      const stream = watch();
      const first = await stream.next();
      const second = await stream.next();
      assert.deepEqual([change(first).sequence, change(first).deviceKey, change(second).sequence], [1n, A.key, 2n]);
      const caughtUp = await stream.next();
      assert.equal(caughtUp.event.case, "caughtUp");
      assert.equal(caughtUp.event.value?.sequence, 2n);
      await gb.report({ imeis: [testDevice(13).imei], status: DeviceStatus.TRACKED });
      const live = change(await stream.next(1_000));
      assert.equal(live.sequence, 3n);
      assert.equal(live.kind, ChangeKind.REPORTED);
      assert.equal(live.status, DeviceStatus.TRACKED);
      assert.equal(live.finding?.status, DeviceStatus.TRACKED);
      for (const message of [first, second, caughtUp]) assert.equal(message.epoch, gb.registry.store.epoch);
    });

    it("resumes after the last sequence the caller saw", async () => {
      for (let i = 0; i < 4; i++) await gb.report({ imeis: [testDevice(20 + i).imei] });
      const stream = watch(2n, gb.registry.store.epoch);
      assert.deepEqual([change(await stream.next()).sequence, change(await stream.next()).sequence], [3n, 4n]);
      assert.equal((await stream.next()).event.case, "caughtUp");
    });

    it("starts from the head when asked, skipping the backlog, and pushes what comes after", async () => {
      for (let i = 0; i < 3; i++) await gb.report({ imeis: [testDevice(30 + i).imei] });
      const stream = readStream(gb.client("gateway").watchChanges({ fromHead: true }, { signal: abort.signal }));
      const caughtUp = await stream.next();
      assert.equal(caughtUp.event.case, "caughtUp");
      assert.equal(caughtUp.event.value?.sequence, 3n);
      await gb.report({ imeis: [testDevice(33).imei] });
      assert.equal(change(await stream.next(1_000)).sequence, 4n);
    });

    it("starts a bounded backlog before the head when asked, never before after_sequence", async () => {
      for (let i = 0; i < 5; i++) await gb.report({ imeis: [testDevice(40 + i).imei] });
      const epoch = gb.registry.store.epoch;
      const backlog = readStream(gb.client("gateway").watchChanges({ fromHead: true, headBacklog: 2n }, { signal: abort.signal }));
      assert.deepEqual([change(await backlog.next()).sequence, change(await backlog.next()).sequence], [4n, 5n]);
      assert.equal((await backlog.next()).event.value?.sequence, 5n);
      const floored = readStream(gb.client("gateway").watchChanges({ fromHead: true, headBacklog: 4n, afterSequence: 3n, epoch }, { signal: abort.signal }));
      assert.equal(change(await floored.next()).sequence, 4n, "after_sequence is the floor");
      const ahead = await readStream(gb.client("gateway").watchChanges({ fromHead: true, headBacklog: 2n, afterSequence: 9n, epoch }, { signal: abort.signal })).end();
      assert.ok(ahead instanceof ImeifedError);
      assert.equal(ahead.code, Code.FAILED_PRECONDITION);
    });

    it("is for gateways only: a manufacturer holding devices:watch gets its feed from the gateway, not every record", async () => {
      await gb.report({ imeis: [A.imei] });
      const refused = await readStream(gb.client("oem-demo").watchChanges({ afterSequence: 0n }, { signal: abort.signal })).end();
      assert.ok(refused instanceof ImeifedError);
      assert.equal(refused.code, Code.PERMISSION_DENIED);
    });

    it("tells a caller holding another epoch, or a sequence beyond the last, to resume from 0", async () => {
      await gb.report({ imeis: [A.imei] });
      const otherEpoch = await watch(0n, "00000000-0000-0000-0000-000000000000").end();
      assert.ok(otherEpoch instanceof ImeifedError);
      assert.equal(otherEpoch.code, Code.FAILED_PRECONDITION);
      assert.match(otherEpoch.message, /resume from after_sequence 0/);
      const ahead = await watch(5n, gb.registry.store.epoch).end();
      assert.ok(ahead instanceof ImeifedError);
      assert.equal(ahead.code, Code.FAILED_PRECONDITION);
      assert.match(ahead.message, /beyond this registry's last sequence 1.*resume from 0/);
    });

    it("streams clearings: the status afterwards, the finding still holding the device, none once PERMITTED", async () => {
      await gb.report({ imeis: [A.imei], by: "police-gb", status: DeviceStatus.PROHIBITED });
      await gb.report({ imeis: [A.imei], by: "police-es", status: DeviceStatus.TRACKED });
      await gb.client("police-gb").clearDevice({ imei: A.imei, reason: ClearReason.RECOVERED });
      await gb.client("police-es").clearDevice({ imei: A.imei, reason: ClearReason.RETURNED });
      const stream = watch(2n);
      const firstClear = change(await stream.next());
      assert.equal(firstClear.kind, ChangeKind.CLEARED);
      assert.equal(firstClear.status, DeviceStatus.TRACKED);
      assert.equal(firstClear.finding?.status, DeviceStatus.TRACKED);
      assert.ok(firstClear.finding?.attestation);
      const lastClear = change(await stream.next());
      assert.equal(lastClear.status, DeviceStatus.PERMITTED);
      assert.equal(lastClear.finding, undefined);
      assert.ok(lastClear.attestation);
    });

    it("attests every change with the registry's published key, signing each change once", async () => {
      await gb.report({ imeis: [A.imei], crimeReference: "CR-1" });
      await gb.client("police-gb").clearDevice({ imei: A.imei, reason: ClearReason.RECOVERED });
      const jwks = JSON.parse((await gb.client("gateway").getKeys({})).jwksJson) as never;
      const stream = watch();
      const reported = change(await stream.next());
      const cleared = change(await stream.next());
      const r = await verifyAttestation(reported.attestation, jwks);
      assert.deepEqual([r.device_key, r.status, r.change, r.seq, r.verified, r.record_id], [A.key, "PROHIBITED", "REPORTED", 1, true, reported.recordId]);
      const c = await verifyAttestation(cleared.attestation, jwks);
      assert.deepEqual([c.status, c.change, c.seq, c.record_id], ["PERMITTED", "CLEARED", 2, reported.recordId]);
      // A second reader gets the very same signatures: they were kept, not signed again.
      const again = watch();
      assert.equal(change(await again.next()).attestation, reported.attestation);
      assert.equal(change(await again.next()).attestation, cleared.attestation);
    });

    it("pages through a backlog larger than one page, in order, before caught_up", async () => {
      await gb.registry.store.importReports(importRows(1_201));
      const stream = watch();
      let expected = 1n;
      for (;;) {
        const message = await stream.next(10_000);
        if (message.event.case === "caughtUp") {
          assert.equal(message.event.value.sequence, 1_201n);
          break;
        }
        assert.equal(change(message).sequence, expected++);
      }
      assert.equal(expected, 1_202n);
    });

    it("ends cleanly when the caller cancels, leaving no waiter behind", async () => {
      const stream = watch();
      assert.equal((await stream.next()).event.case, "caughtUp");
      const feed = gb.registry.store.changeFeed;
      await eventually("the watch to wait on the feed", () => feed.waiting > 0);
      assert.equal(feed.waiting, 1);
      abort.abort();
      await eventually("no waiter left on the feed", () => feed.waiting === 0);
      assert.equal(feed.waiting, 0);
    });

    it("ends an open stream with UNAVAILABLE when the registry shuts down", async () => {
      const stream = watch();
      assert.equal((await stream.next()).event.case, "caughtUp");
      const shutdown = gb.registry.shutdown(2_000);
      const error = await stream.end();
      await shutdown;
      assert.ok(error instanceof ImeifedError, String(error));
      assert.equal(error.code, Code.UNAVAILABLE);
      assert.match(error.message, /shutting down; reconnect/);
    });

    if (db === "postgres") {
      it("pushes changes that another store on the same database commits (LISTEN/NOTIFY)", async () => {
        const stream = watch();
        assert.equal((await stream.next()).event.case, "caughtUp");
        const location = gb.registry.config.db as { postgres: string; schema: string };
        const other = await openPostgresStore({ url: TEST_POSTGRES_URL, schema: location.schema });
        try {
          await other.report(storeReport(A.key, { caseReference: "OTHER-1" }));
          assert.equal(change(await stream.next(1_000)).deviceKey, A.key);
        } finally {
          await other.close();
        }
      });
    }
  });
}
