import assert from "node:assert/strict";
import { outboxEntry, outboxText, relayOutbox, type OutboxRow } from "../../../trust/audit/audit-outbox.js";
import { verifyAuditChain } from "../../../trust/audit/index.js";
import { AUDIT_STORES, sampleEntry, type AuditStorePlace } from "./audit-stores.js";

for (const kind of AUDIT_STORES) {
  describe(`relaying a store's audit outbox to a log on ${kind.name}`, () => {
    let place: AuditStorePlace;
    beforeEach(async () => {
      place = await kind.create();
    });
    afterEach(() => place.destroy());

    it("appends what the log lacks, in order, once each, and removes every row", async () => {
      const log = await place.open();
      try {
        // A crash after the log's commit left rows 2 and 3's call in the log already (once: two identical calls, one entry).
        log.append(sampleEntry(2));
        await log.flush();
        const rows: OutboxRow[] = [sampleEntry(1), sampleEntry(2), sampleEntry(2), sampleEntry(3)].map((entry, i) => ({ id: i + 10, entry: outboxEntry(outboxText(entry)) }));
        const removed: number[] = [];
        assert.equal(await relayOutbox(rows, log, async (id) => void removed.push(id)), 3);
        assert.deepEqual(removed, [10, 11, 12, 13]);
        const purposes = (await log.query({})).map((e) => e.purpose);
        assert.deepEqual(purposes, ["case-2", "case-1", "case-2", "case-3"]);
        // Relaying the same rows again (a crash before they were removed) adds nothing.
        assert.equal(await relayOutbox(rows, log, async () => undefined), 0);
        const report = await verifyAuditChain(log);
        assert.ok(report.ok && report.entries === 4);
      } finally {
        await log.close();
      }
    });
  });
}
