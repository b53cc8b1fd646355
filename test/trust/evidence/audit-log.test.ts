import assert from "node:assert/strict";
import fc from "fast-check";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { fileURLToPath } from "node:url";
import { Code, ImeifedError } from "../../../errors/index.js";
import { AuditBuffer, batchDigest, batchDigestOfKeyNumbers, queryAudit, verifyAuditChain, type AuditEntry, type AuditLog } from "../../../trust/audit/index.js";
import { AUDIT_STORES, PG_URL, sampleEntry, type AuditStorePlace } from "./audit-stores.js";
import { eventually } from "../../support/waiting.js";

const CHILD = fileURLToPath(new URL("./append-audit-child.ts", import.meta.url));

function runChild(args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", CHILD, ...args], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("error", reject);
    // A failed (and retried) write is printed on stderr: the writers must never collide.
    child.on("exit", (code) => (code === 0 && stderr === "" ? resolve() : reject(new Error(`child exited ${code}: ${stderr}`))));
  });
}

describe("batch digest", () => {
  it("is the SHA-256 of the sorted keys joined by newlines, whatever the order", () => {
    const expected = createHash("sha256").update("35693803564380\n49015420323751").digest("hex");
    assert.equal(batchDigest(["49015420323751", "35693803564380"]), expected);
    assert.equal(batchDigest(new Set(["35693803564380", "49015420323751"])), expected);
    assert.notEqual(batchDigest(["49015420323751"]), expected);
  });

  it("is the same from the keys' numbers (leading zeros, duplicates, any order, empty)", () => {
    const digits = fc.stringMatching(/^\d{14}$/);
    // Keys crowded near the edges: leading zeros, all nines, the halves' boundary.
    const edgy = fc.constantFrom("00000000000001", "00000009999999", "00000010000000", "99999999999999", "09999999999999", "10000000000000");
    fc.assert(
      fc.property(fc.array(fc.oneof(digits, edgy), { maxLength: 60 }), (keys) => {
        const numbers = Float64Array.from(keys, Number);
        assert.equal(batchDigestOfKeyNumbers(numbers), batchDigest(keys));
        // In order, the sort is skipped.
        assert.equal(batchDigestOfKeyNumbers(numbers.slice().sort()), batchDigest(keys));
      }),
      { numRuns: 500 },
    );
    // Nearly in order (a manifest's run of devices with a few others among them): its runs are merged.
    const nearly = Array.from({ length: 5_000 }, (_, i) => String(86_100_000_000_000 + i));
    for (let j = 0; j < 7; j++) nearly.splice(Math.floor(Math.random() * nearly.length), 0, String(35_693_810_000_000 + Math.floor(Math.random() * 1e6)));
    assert.equal(batchDigestOfKeyNumbers(Float64Array.from(nearly, Number)), batchDigest(nearly));
    // A full registry batch of random keys (more runs than are merged: radix-sorted, every digit in play).
    const many = Array.from({ length: 10_000 }, () => String(Math.floor(Math.random() * 1e14)).padStart(14, "0"));
    assert.equal(batchDigestOfKeyNumbers(Float64Array.from(many, Number)), batchDigest(many));
    assert.equal(batchDigestOfKeyNumbers(new Float64Array([49015420323751, 35693803564380])), createHash("sha256").update("35693803564380\n49015420323751").digest("hex"));
  });
});

describe("audit buffer", () => {
  const entry = (i: number) => sampleEntry(i);

  it("writes nothing on the call path and everything after the interval, in order", async () => {
    const written: AuditEntry[][] = [];
    const buffer = new AuditBuffer(async (batch) => void written.push([...batch]), { flushIntervalMs: 20 });
    for (let i = 0; i < 5; i++) buffer.add(entry(i));
    assert.equal(written.length, 0);
    assert.equal(buffer.pending, 5);
    await eventually("the timed flush", async () => buffer.pending === 0);
    assert.deepEqual(written.flat().map((e) => e.purpose), ["case-0", "case-1", "case-2", "case-3", "case-4"]);
    await buffer.close();
  });

  it("writes in transactions of at most maxBatch and flushes as soon as one is full", async () => {
    const sizes: number[] = [];
    const buffer = new AuditBuffer(async (batch) => void sizes.push(batch.length), { flushIntervalMs: 60_000, maxBatch: 4 });
    for (let i = 0; i < 10; i++) buffer.add(entry(i));
    await eventually("a full batch to be flushed without waiting for the interval", async () => buffer.pending < 4);
    await buffer.close();
    assert.ok(sizes.every((n) => n <= 4), `batch sizes ${sizes}`);
    assert.equal(sizes.reduce((a, b) => a + b, 0), 10);
  });

  it("keeps entries through a failing store and retries them in order", async () => {
    const written: string[] = [];
    const errors: unknown[] = [];
    let failures = 2;
    const buffer = new AuditBuffer(
      async (batch) => {
        if (failures-- > 0) throw new Error("database is locked");
        written.push(...batch.map((e) => e.purpose ?? ""));
      },
      { flushIntervalMs: 1, retryDelayMs: 5, onError: (e) => errors.push(e) },
    );
    for (let i = 0; i < 3; i++) buffer.add(entry(i));
    await eventually("the retried write", async () => written.length === 3);
    assert.equal(errors.length, 2);
    assert.deepEqual(written, ["case-0", "case-1", "case-2"]);
    await buffer.close();
  });

  it("refuses with UNAVAILABLE once the backlog is full, and after close", async () => {
    const buffer = new AuditBuffer(async () => Promise.reject(new Error("down")), { flushIntervalMs: 60_000, maxPending: 2, onError: () => undefined });
    buffer.add(entry(1));
    buffer.add(entry(2));
    assert.throws(
      () => buffer.add(entry(3)),
      (e: unknown) => e instanceof ImeifedError && e.code === Code.UNAVAILABLE && e.reason === "AUDIT_UNAVAILABLE" && e.retryAfterMs !== undefined,
    );
    await assert.rejects(buffer.close(), /down/);
    assert.throws(() => buffer.add(entry(4)), /closed/);
  });

  it("holds at most 10,000 unwritten entries by default, the most a crash can lose, and refuses past them", async () => {
    let writing = 0;
    const buffer = new AuditBuffer((batch) => ((writing += batch.length), new Promise<void>(() => undefined)), { onError: () => undefined });
    for (let i = 0; i < 500; i++) buffer.add(entry(i));
    // A full batch goes to the store at once; while it is being written, it still counts.
    await eventually("a full batch to be written", () => writing === 500);
    for (let i = 500; i < 10_000; i++) buffer.add(entry(i));
    assert.throws(() => buffer.add(entry(10_000)), (e: unknown) => e instanceof ImeifedError && e.code === Code.UNAVAILABLE && e.reason === "AUDIT_UNAVAILABLE");
  });

  it("writes a durable entry at once, with those queued before it, and resolves only when its batch is committed", async () => {
    const written: string[] = [];
    let release: (() => void) | undefined;
    const buffer = new AuditBuffer(
      async (batch) => {
        await new Promise<void>((resolve) => (release = resolve));
        written.push(...batch.map((e) => e.purpose ?? ""));
      },
      { flushIntervalMs: 60_000 },
    );
    buffer.add(entry(1));
    let settled = false;
    const durable = buffer.addDurably(entry(2)).then(() => (settled = true));
    // The write began without waiting for the interval, and is still open: nothing is promised yet.
    await eventually("the write to begin", () => release !== undefined);
    assert.equal(settled, false);
    release!();
    await durable;
    assert.deepEqual(written, ["case-1", "case-2"]);
    await buffer.close();
  });

  it("rejects a durable entry with UNAVAILABLE when its write fails, and keeps it for the retry", async () => {
    const written: string[] = [];
    let failures = 1;
    const buffer = new AuditBuffer(
      async (batch) => {
        if (failures-- > 0) throw new Error("disk full");
        written.push(...batch.map((e) => e.purpose ?? ""));
      },
      { flushIntervalMs: 60_000, retryDelayMs: 5, onError: () => undefined },
    );
    await assert.rejects(buffer.addDurably(entry(1)), (e: unknown) => e instanceof ImeifedError && e.code === Code.UNAVAILABLE && e.reason === "AUDIT_UNAVAILABLE");
    await eventually("the retried write", () => written.length === 1);
    assert.deepEqual(written, ["case-1"]);
    await buffer.close();
  });
});

for (const kind of AUDIT_STORES) {
  describe(`audit log on ${kind.name}`, () => {
    let place: AuditStorePlace;
    beforeEach(async () => {
      place = await kind.create();
    });
    afterEach(() => place.destroy());

    it("writes every entry queued before close, across many transactions", async () => {
      const log = await place.open({ flushIntervalMs: 60_000, maxBatch: 100 });
      for (let i = 0; i < 1234; i++) log.append(sampleEntry(i));
      await log.close();
      assert.equal(await place.tamper.count(), 1234);
      const reader = await place.open({ readOnly: true });
      try {
        const report = await verifyAuditChain(reader);
        assert.deepEqual(report.ok && report.entries, 1234);
      } finally {
        await reader.close();
      }
    });

    it("continues the chain of an existing log after a restart", async () => {
      const first = await place.open();
      for (let i = 0; i < 3; i++) first.append(sampleEntry(i));
      await first.close();
      const second = await place.open();
      for (let i = 3; i < 6; i++) second.append(sampleEntry(i));
      await second.close();
      const reader = await place.open({ readOnly: true });
      try {
        const report = await verifyAuditChain(reader);
        assert.ok(report.ok && report.entries === 6);
      } finally {
        await reader.close();
      }
    });

    it("answers which partners asked, since when, about which device", async () => {
      const log: AuditLog = await place.open();
      try {
        for (let i = 1; i <= 8; i++) log.append(sampleEntry(i));
        // Entries 1..8: odd ones from police-es directly, even ones via the gateway for customs-gb (4, 8) or police-jp (2, 6).
        assert.deepEqual((await queryAudit(log, { requester: "customs-gb" })).map((e) => e.seq), [4, 8]);
        assert.deepEqual((await queryAudit(log, { requester: "police-es" })).map((e) => e.seq), [1, 3, 5, 7]);
        assert.deepEqual((await queryAudit(log, { principal: "gateway" })).map((e) => e.actor), ["police-jp", "customs-gb", "police-jp", "customs-gb"]);
        assert.deepEqual((await queryAudit(log, { since: new Date(Date.UTC(2025, 2, 1, 10, 0, 6)) })).map((e) => e.seq), [6, 7, 8]);
        assert.deepEqual((await queryAudit(log, { until: new Date(Date.UTC(2025, 2, 1, 10, 0, 3)) })).map((e) => e.seq), [1, 2]);
        assert.deepEqual((await queryAudit(log, { deviceKey: "35693803120005" })).map((e) => e.purpose), ["case-5"]);
        assert.deepEqual((await queryAudit(log, { limit: 2, afterSeq: 2 })).map((e) => e.seq), [3, 4]);
      } finally {
        await log.close();
      }
    });

    it("keeps one chain when several processes append at once", async function () {
      this.timeout(60_000);
      const args = kind.name === "postgres" ? ["postgres", PG_URL, place.location] : ["sqlite", place.location];
      // Create the table first, as a server would at start.
      await (await place.open()).close();
      await Promise.all(["w1", "w2", "w3"].map((w) => runChild([...args, w, "150"])));
      const reader = await place.open({ readOnly: true });
      try {
        const report = await verifyAuditChain(reader);
        assert.ok(report.ok, report.ok ? "" : report.message);
        assert.equal(report.entries, 450);
        const servers = new Set((await reader.rowsAfter(0, 1000)).map((r) => r.server));
        assert.deepEqual([...servers].sort(), ["w1", "w2", "w3"]);
      } finally {
        await reader.close();
      }
    });

    it("refuses to open a place without an audit_log table read-only, and creates nothing", async () => {
      if (kind.name === "sqlite") {
        await assert.rejects(place.open({ readOnly: true }), /(has no audit_log table|cannot open audit database)/);
      } else {
        await assert.rejects(place.open({ readOnly: true }), /has no audit_log table/);
      }
    });
  });
}
