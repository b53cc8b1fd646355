import assert from "node:assert/strict";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { SightingKind } from "../../gen/imeifed/v1/registry_pb.js";
import { Code, ImeifedError } from "../../errors/index.js";
import { createTestTrust, type TestTrust } from "../support/trust-fixture.js";
import { startTestRegistry, type TestRegistry } from "../support/registry-fixture.js";
import { readStream } from "./stream-reader.js";
import { testDevice } from "./test-imeis.js";

const A = testDevice(31);
const B = testDevice(32);
const C = testDevice(33);

for (const db of ["sqlite", "postgres"] as const) {
  describe(`sightings (${db})`, function () {
    let trust: TestTrust;
    let gb: TestRegistry;
    let abort: AbortController;

    before(async () => {
      trust = await createTestTrust();
    });
    after(async () => trust.cleanup());
    beforeEach(async () => {
      gb = await startTestRegistry({
        country: "GB",
        trust,
        db,
        seed: [
          { imeis: [A.imei], by: "police-gb", caseReference: "GB-A" },
          { imeis: [B.imei], by: "police-es", caseReference: "ES-B" },
        ],
      });
      abort = new AbortController();
    });
    afterEach(async () => {
      abort.abort();
      await gb.cleanup();
    });

    it("records a gateway's hit with the partner it names, and tells only the reporting agency, with its case", async () => {
      const seenAt = new Date("2025-06-01T12:00:00Z");
      const gateway = gb.client("gateway", { act: { id: "customs-jp", kind: "customs", country: "JP" } });
      const outcome = await gateway.recordSighting({
        imei: A.imeisv,
        kind: SightingKind.SCREENING_HIT,
        seenInCountry: "JP",
        partnerKind: "customs",
        partnerId: "customs-jp",
        seenAt: timestampFromDate(seenAt),
        purpose: "manifest JP-77",
      });
      assert.equal(outcome.recorded, true);
      const own = readStream(gb.client("police-gb").watchSightings({ afterSequence: 0n }, { signal: abort.signal }));
      const { sighting } = await own.next();
      assert.equal(sighting?.deviceKey, A.key);
      assert.equal(sighting?.caseReference, "GB-A");
      assert.equal(sighting?.seenInCountry, "JP");
      assert.equal(sighting?.partnerKind, "customs");
      assert.equal(sighting?.partnerId, "customs-jp");
      assert.equal(sighting?.purpose, "manifest JP-77");
      assert.equal(sighting?.kind, SightingKind.SCREENING_HIT);
      assert.equal(sighting?.seenAt?.seconds, BigInt(seenAt.getTime() / 1000));
      // police-es reported another device: it sees nothing of police-gb's case.
      const other = readStream(gb.client("police-es").watchSightings({ afterSequence: 0n }, { signal: abort.signal }));
      await assert.rejects(other.next(300), /no message/);
    });

    it("takes a direct caller's identity as the partner, whatever the request claims", async () => {
      await gb.client("police-es").recordSighting({
        imei: A.imei,
        kind: SightingKind.FOUND,
        partnerId: "someone-else",
        seenInCountry: "FR",
        found: { location: "Madrid, Comisaría Centro", holdingAgency: "police-es", contact: "+34 91 000 0000", note: "screen cracked" },
      });
      const own = readStream(gb.client("police-gb").watchSightings({ afterSequence: 0n }, { signal: abort.signal }));
      const { sighting } = await own.next();
      assert.deepEqual([sighting?.partnerId, sighting?.partnerKind, sighting?.seenInCountry], ["police-es", "police", "ES"]);
      assert.equal(sighting?.found?.location, "Madrid, Comisaría Centro");
      assert.equal(sighting?.found?.contact, "+34 91 000 0000");
    });

    it("answers recorded false for a device without an open record", async () => {
      const outcome = await gb.client("police-es").recordSighting({ imei: C.imei, kind: SightingKind.LOOKUP_HIT });
      assert.deepEqual([outcome.recorded, outcome.sequence], [false, 0n]);
    });

    it("resumes after a sequence and pushes new sightings live", async () => {
      const found = gb.client("police-jp");
      const first = await found.recordSighting({ imei: A.imei, kind: SightingKind.LOOKUP_HIT, purpose: "1" });
      await found.recordSighting({ imei: A.imei, kind: SightingKind.LOOKUP_HIT, purpose: "2" });
      const own = readStream(gb.client("police-gb").watchSightings({ afterSequence: first.sequence }, { signal: abort.signal }));
      assert.equal((await own.next()).sighting?.purpose, "2");
      await found.recordSighting({ imei: A.imei, kind: SightingKind.FOUND, purpose: "3" });
      assert.equal((await own.next(1_000)).sighting?.purpose, "3");
    });

    it("marks the end of the stored sightings when asked (a listing), once, and only then", async () => {
      const found = gb.client("police-jp");
      for (const purpose of ["1", "2", "3"]) await found.recordSighting({ imei: A.imei, kind: SightingKind.LOOKUP_HIT, purpose });
      const listing = readStream(gb.client("police-gb").watchSightings({ afterSequence: 0n, announceCaughtUp: true }, { signal: abort.signal }));
      const purposes = [(await listing.next()).sighting?.purpose, (await listing.next()).sighting?.purpose, (await listing.next()).sighting?.purpose];
      assert.deepEqual(purposes, ["1", "2", "3"]);
      const mark = await listing.next();
      assert.equal(mark.sighting, undefined);
      assert.ok(mark.caughtUp && mark.caughtUp.sequence > 0n, "caught up at the last sighting sent");
      await found.recordSighting({ imei: A.imei, kind: SightingKind.FOUND, purpose: "4" });
      const live = await listing.next(1_000);
      assert.deepEqual([live.sighting?.purpose, live.caughtUp], ["4", undefined]);
      // An agency with nothing stored is caught up at once, at the sequence it gave; without the flag, no mark.
      const none = readStream(gb.client("police-es").watchSightings({ afterSequence: 7n, announceCaughtUp: true }, { signal: abort.signal }));
      assert.equal((await none.next()).caughtUp?.sequence, 7n);
      const unasked = readStream(gb.client("police-es").watchSightings({ afterSequence: 0n }, { signal: abort.signal }));
      await assert.rejects(unasked.next(300), /no message/);
    });

    it("ends a watch when a trust file reload withdraws the scope it needs, and keeps the watches it still allows", async () => {
      const gbWatch = readStream(gb.client("police-gb").watchSightings({ afterSequence: 0n }, { signal: abort.signal }));
      const esWatch = readStream(gb.client("police-es").watchSightings({ afterSequence: 0n }, { signal: abort.signal }));
      await gb.client("police-jp").recordSighting({ imei: A.imei, kind: SightingKind.LOOKUP_HIT, purpose: "before" });
      assert.equal((await gbWatch.next()).sighting?.purpose, "before");
      const restore = await trust.editTrustFile((file) => {
        const police = file.principals.find((p) => p.id === "police-gb")!;
        police.scopes = police.scopes.filter((scope) => scope !== "devices:watch");
      });
      try {
        const ended = await gbWatch.end();
        assert.ok(ended instanceof ImeifedError, String(ended));
        // The token claims a scope its principal no longer holds: refused as a new call with it would be.
        assert.deepEqual([Code[ended.code], ended.reason], ["PERMISSION_DENIED", "SCOPE_NOT_GRANTED"]);
        // police-es still holds the scope: its watch goes on and hears of its own case.
        await gb.client("police-jp").recordSighting({ imei: B.imei, kind: SightingKind.LOOKUP_HIT, purpose: "after" });
        assert.equal((await esWatch.next()).sighting?.purpose, "after");
      } finally {
        await restore();
      }
    });

    it("records a batch in one call: each answered in order, audited as one entry", async () => {
      const gateway = gb.client("gateway", { act: { id: "customs-jp", kind: "customs", country: "JP" } });
      const hit = (imei: string, purpose: string) => ({ imei, kind: SightingKind.SCREENING_HIT, seenInCountry: "JP", partnerKind: "customs", partnerId: "customs-jp", purpose });
      const { results } = await gateway.recordSightings({ sightings: [hit(C.imei, "JP-1"), hit(A.imei, "JP-1"), hit(B.imei, "JP-2"), hit(A.imeisv, "JP-1")] });
      assert.deepEqual(
        results.map((r) => r.recorded),
        [false, true, true, true],
      );
      const sequences = results.filter((r) => r.recorded).map((r) => r.sequence);
      assert.deepEqual(sequences, [...sequences].sort((a, b) => Number(a - b)), "sequences ascend in request order");
      // Each agency hears of its own cases only, with the purposes as sent.
      const own = readStream(gb.client("police-gb").watchSightings({ afterSequence: 0n }, { signal: abort.signal }));
      assert.deepEqual([(await own.next()).sighting?.caseReference, (await own.next()).sighting?.caseReference], ["GB-A", "GB-A"]);
      const es = readStream(gb.client("police-es").watchSightings({ afterSequence: 0n }, { signal: abort.signal }));
      assert.equal((await es.next()).sighting?.purpose, "JP-2");
      const entries = (await gb.registry.audit.query({})).filter((e) => e.method === "RecordSightings");
      assert.equal(entries.length, 1);
      assert.deepEqual([entries[0]!.batchSize, entries[0]!.purpose, entries[0]!.verdict, entries[0]!.actor], [4, "JP-1; JP-2", "SIGHTING_RECORDED:3 NOT_LISTED:1", "customs-jp"]);
      assert.ok(entries[0]!.batchDigest);
    });

    it("refuses a batch with one bad sighting, naming it, and keeps none of it", async () => {
      const gateway = gb.client("gateway", { act: { id: "customs-jp", kind: "customs", country: "JP" } });
      await assert.rejects(
        gateway.recordSightings({ sightings: [{ imei: A.imei, kind: SightingKind.SCREENING_HIT }, { imei: B.imei, kind: SightingKind.SCREENING_HIT }, { imei: "35693803000099", kind: SightingKind.SCREENING_HIT, purpose: "x".repeat(501) }] }),
        (e: unknown) => e instanceof ImeifedError && e.code === Code.INVALID_ARGUMENT && /^sightings\[2\]\.purpose: /.test(e.message),
      );
      await assert.rejects(
        gateway.recordSightings({ sightings: [{ imei: A.imei, kind: SightingKind.SCREENING_HIT }, { imei: "123", kind: SightingKind.SCREENING_HIT }] }),
        (e: unknown) => e instanceof ImeifedError && e.code === Code.INVALID_ARGUMENT && /^sightings\[1\]\.imei/.test(e.message),
      );
      const own = readStream(gb.client("police-gb").watchSightings({ afterSequence: 0n }, { signal: abort.signal }));
      await assert.rejects(own.next(300), /no message/);
      // Above the registry's batch limit: split it.
      const limited = await startTestRegistry({ country: "JP", trust, db, config: { batchLimit: 2 } });
      try {
        await assert.rejects(
          limited.client("gateway").recordSightings({ sightings: Array.from({ length: 3 }, () => ({ imei: A.imei, kind: SightingKind.FOUND })) }),
          (e: unknown) => e instanceof ImeifedError && e.code === Code.INVALID_ARGUMENT && /at most 2 per call/.test(e.message),
        );
      } finally {
        await limited.cleanup();
      }
    });

    it("needs devices:found to record and a kind to be named", async () => {
      await assert.rejects(
        gb.client("oem-demo").recordSighting({ imei: A.imei, kind: SightingKind.LOOKUP_HIT }),
        (e: unknown) => e instanceof ImeifedError && e.code === Code.PERMISSION_DENIED,
      );
      await assert.rejects(
        gb.client("oem-demo").recordSightings({ sightings: [{ imei: A.imei, kind: SightingKind.LOOKUP_HIT }] }),
        (e: unknown) => e instanceof ImeifedError && e.code === Code.PERMISSION_DENIED,
      );
      await assert.rejects(
        gb.client("police-es").recordSighting({ imei: A.imei }),
        (e: unknown) => e instanceof ImeifedError && e.code === Code.INVALID_ARGUMENT && /^kind: /.test(e.message),
      );
    });

    it("refuses a partner the sharing policy shares nothing with, listed device or not", async () => {
      const closed = await startTestRegistry({ country: "JP", trust, db, config: { sharing: { rules: [{ kind: "police", country: "ES", share: "none" }] } }, seed: [{ imeis: [A.imei], by: "police-jp" }] });
      try {
        const gateway = closed.client("gateway", { act: { id: "police-es", kind: "police", country: "ES" } });
        for (const imei of [A.imei, B.imei]) {
          await assert.rejects(
            gateway.recordSighting({ imei, kind: SightingKind.FOUND, purpose: "ES-1" }),
            (e: unknown) => e instanceof ImeifedError && e.code === Code.PERMISSION_DENIED,
          );
          await assert.rejects(
            gateway.recordSightings({ sightings: [{ imei, kind: SightingKind.FOUND, purpose: "ES-1" }] }),
            (e: unknown) => e instanceof ImeifedError && e.code === Code.PERMISSION_DENIED,
          );
        }
      } finally {
        await closed.cleanup();
      }
    });
  });
}
