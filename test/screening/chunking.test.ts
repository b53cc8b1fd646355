import assert from "node:assert/strict";
import { ChunkGatherer } from "../../gateway/screening/chunking.js";
import { InOrderPool } from "../../gateway/screening/in-order-pool.js";
import { ManifestItemsBatch } from "../../gateway/screening/manifest-batch.js";
import type { ManifestItem } from "../../gen/imeifed/v1/federation_pb.js";

const batchOf = (n: number, from = 0) =>
  new ManifestItemsBatch(Array.from({ length: n }, (_, i): ManifestItem => ({ $typeName: "imeifed.v1.ManifestItem", deviceId: String(from + i), declaredMake: "", declaredModel: "", lineReference: "" })));

describe("screening's chunks and in-order pool", () => {
  it("gathers small batches and cuts large ones into chunks of chunkSize, keeping manifest indexes", () => {
    const gatherer = new ChunkGatherer(4);
    gatherer.add(batchOf(3, 0));
    assert.equal(gatherer.hasReady, false);
    assert.equal(gatherer.holdsPartial, true);
    gatherer.add(batchOf(7, 3)); // fills the first chunk, then one full and one partial
    const chunks = [gatherer.takeReady()!, gatherer.takeReady()!];
    assert.equal(gatherer.takeReady(), undefined);
    assert.deepEqual(chunks.map((c) => [c.start, c.length, c.parts.length]), [[0, 4, 2], [4, 4, 1]]);
    assert.deepEqual(chunks[0]!.parts.map((p) => [p.from, p.to]), [[0, 3], [0, 1]]);
    gatherer.flush();
    const last = gatherer.takeReady()!;
    assert.deepEqual([last.start, last.length, last.parts[0]!.batch.deviceIdAt(last.parts[0]!.from)], [8, 2, "8"]);
    assert.equal(gatherer.holdsPartial, false);
  });

  it("gives results back in the order their tasks started, whatever order they finish in, and holds at most its capacity", async () => {
    const pool = new InOrderPool<string>(2);
    const finish: Record<string, () => void> = {};
    const task = (name: string) => () => new Promise<string>((resolve) => (finish[name] = () => resolve(name)));
    pool.start(task("a"));
    pool.start(task("b"));
    assert.equal(pool.full, true);
    finish.b!();
    finish.a!();
    assert.equal(await pool.take(), "a");
    assert.equal(pool.full, false);
    pool.start(async () => Promise.reject(new Error("c failed")));
    assert.equal(await pool.take(), "b");
    await assert.rejects(pool.take(), /c failed/);
    assert.equal(pool.oldest, undefined);
    assert.throws(() => pool.take(), RangeError);
  });
});
