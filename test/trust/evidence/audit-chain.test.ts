import assert from "node:assert/strict";
import { entryHash, verifyAuditChain, type AuditChainReport, type AuditLog, type AuditRecord } from "../../../trust/audit/index.js";
import { AUDIT_STORES, sampleEntry, type AuditStorePlace, type Tamper } from "./audit-stores.js";

const ENTRIES = 10;

/** Recomputes a record's hash after the tamperer changed it, as a careful forger would. */
function resealed(record: Omit<AuditRecord, "hash">): AuditRecord {
  return { ...record, hash: entryHash(record) };
}

function assertBroken(report: AuditChainReport, problem: string, seq: number, message?: RegExp): void {
  assert.equal(report.ok, false, `expected the chain to be broken (${problem} at ${seq}), it verified`);
  if (report.ok) return;
  assert.equal(report.problem, problem, report.message);
  assert.equal(report.seq, seq, report.message);
  assert.match(report.message, new RegExp(`^${problem} at seq ${seq}: `));
  if (message) assert.match(report.message, message);
}

for (const kind of AUDIT_STORES) {
  describe(`audit chain on ${kind.name}`, () => {
    let place: AuditStorePlace;
    let tamper: Tamper;
    let head: { seq: number; hash: string };

    async function verify(anchor?: { seq: number; hash: string }): Promise<AuditChainReport> {
      const log = await place.open({ readOnly: true });
      try {
        return await verifyAuditChain(log, { ...(anchor ? { anchor } : {}), pageSize: 3 });
      } finally {
        await log.close();
      }
    }

    beforeEach(async () => {
      place = await kind.create();
      tamper = place.tamper;
      const log: AuditLog = await place.open();
      for (let i = 1; i <= ENTRIES; i++) await log.append(sampleEntry(i));
      await log.close();
      const report = await verify();
      assert.ok(report.ok && report.head);
      head = report.head;
    });

    afterEach(() => place.destroy());

    it("verifies an untouched chain and reports its head", async () => {
      const report = await verify(head);
      assert.deepEqual(report, { ok: true, entries: ENTRIES, head });
      assert.equal(head.seq, ENTRIES);
      assert.match(head.hash, /^[0-9a-f]{64}$/);
    });

    it("stores what was appended, chained from the genesis hash", async () => {
      const first = await tamper.row(1);
      assert.equal(first.prevHash, "0".repeat(64));
      assert.equal(first.deviceKey, "35693803120001");
      assert.equal(first.actor, null);
      assert.deepEqual(first.countries, ["GB"]);
      const second = await tamper.row(2);
      assert.equal(second.prevHash, first.hash);
      assert.equal(second.actor, "police-jp");
    });

    it("refuses UPDATE and DELETE through the triggers", async () => {
      const log = await place.open();
      await log.close();
      if (kind.name === "sqlite") {
        const { default: Database } = await import("better-sqlite3");
        const db = new Database(place.location);
        try {
          assert.throws(() => db.prepare("UPDATE audit_log SET verdict = 'PERMITTED' WHERE seq = 1").run(), /append-only/);
          assert.throws(() => db.prepare("DELETE FROM audit_log WHERE seq = 1").run(), /append-only/);
        } finally {
          db.close();
        }
      } else {
        const pg = (await import("pg")).default;
        const client = new pg.Client({ connectionString: "postgres://postgres@127.0.0.1:5432/test" });
        await client.connect();
        try {
          await assert.rejects(client.query(`UPDATE "${place.location}".audit_log SET verdict = 'PERMITTED' WHERE seq = 1`), /append-only/);
          await assert.rejects(client.query(`DELETE FROM "${place.location}".audit_log WHERE seq = 1`), /append-only/);
          await assert.rejects(client.query(`TRUNCATE "${place.location}".audit_log`), /append-only/);
        } finally {
          await client.end();
        }
      }
      assert.ok((await verify()).ok);
    });

    it("names a changed entry", async () => {
      await tamper.exec("UPDATE audit_log SET verdict = 'PERMITTED' WHERE seq = 6");
      assertBroken(await verify(), "changed", 6, /content no longer matches its hash/);
    });

    it("names a changed entry whose hash was recomputed", async () => {
      const row = await tamper.row(5);
      const forged = resealed({ ...row, principal: "police-gb" });
      await tamper.exec(`UPDATE audit_log SET principal = 'police-gb', hash = '${forged.hash}' WHERE seq = 5`);
      assertBroken(await verify(), "changed", 5, /hash recomputed/);
    });

    it("names a removed entry", async () => {
      await tamper.exec("DELETE FROM audit_log WHERE seq = 4");
      assertBroken(await verify(), "removed", 4, /the entry at seq 4 is missing/);
    });

    it("names removed entries when the later ones were renumbered", async () => {
      await tamper.exec("DELETE FROM audit_log WHERE seq = 4; UPDATE audit_log SET seq = -(seq - 1) WHERE seq > 4; UPDATE audit_log SET seq = -seq WHERE seq < 0;");
      assertBroken(await verify(), "removed", 4, /renumbered/);
    });

    it("names a removed first entry", async () => {
      await tamper.exec("DELETE FROM audit_log WHERE seq = 1");
      assertBroken(await verify(), "removed", 1);
    });

    it("names an entry inserted in the middle, even with a correct hash of its own", async () => {
      const four = await tamper.row(4);
      await tamper.exec("UPDATE audit_log SET seq = -(seq + 1) WHERE seq >= 5; UPDATE audit_log SET seq = -seq WHERE seq < 0;");
      const forged = resealed({ ...four, seq: 5, deviceKey: "35693803129999", purpose: "forged", prevHash: four.hash });
      await tamper.insert(forged);
      assertBroken(await verify(), "inserted", 5, /entries 5\.\.5 are not part of the chain/);
    });

    it("names an inserted entry that links to nothing", async () => {
      const four = await tamper.row(4);
      await tamper.exec("UPDATE audit_log SET seq = -(seq + 1) WHERE seq >= 5; UPDATE audit_log SET seq = -seq WHERE seq < 0;");
      await tamper.insert({ ...four, seq: 5, prevHash: "f".repeat(64), hash: "e".repeat(64) });
      assertBroken(await verify(), "inserted", 5);
    });

    it("names a copied entry appended at the end", async () => {
      const three = await tamper.row(3);
      await tamper.insert({ ...three, seq: ENTRIES + 1 });
      assertBroken(await verify(), "inserted", ENTRIES + 1, /a copy of the entry at seq 3/);
    });

    it("names reordered entries", async () => {
      await tamper.exec("UPDATE audit_log SET seq = -1 WHERE seq = 7; UPDATE audit_log SET seq = 7 WHERE seq = 8; UPDATE audit_log SET seq = 8 WHERE seq = -1;");
      assertBroken(await verify(), "reordered", 7, /written after the entry now at seq 8/);
    });

    it("catches entries cut from the end only against an anchored head", async () => {
      await tamper.exec(`DELETE FROM audit_log WHERE seq > ${ENTRIES - 2}`);
      const unanchored = await verify();
      assert.ok(unanchored.ok);
      assert.equal(unanchored.entries, ENTRIES - 2);
      assertBroken(await verify(head), "removed", ENTRIES - 1, /cut from the end/);
    });

    it("catches a chain rewritten from some point on only against an anchored head", async () => {
      let prev = await tamper.row(4);
      for (let seq = 5; seq <= ENTRIES; seq++) {
        const row = await tamper.row(seq);
        const forged = resealed({ ...row, verdict: "PERMITTED", prevHash: prev.hash });
        await tamper.exec(`UPDATE audit_log SET verdict = 'PERMITTED', prev_hash = '${forged.prevHash}', hash = '${forged.hash}' WHERE seq = ${seq}`);
        prev = forged;
      }
      assert.ok((await verify()).ok);
      assertBroken(await verify(head), "changed", ENTRIES, /rewritten/);
    });

    it("verifies an empty log", async () => {
      await tamper.exec("DELETE FROM audit_log");
      assert.deepEqual(await verify(), { ok: true, entries: 0 });
    });
  });
}
