import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { FederationService, ScreeningOutcome, UnansweredPolicy, type ScreenRequestSchema, type ScreenResponse, type ScreeningSummary } from "../../gen/imeifed/v1/federation_pb.js";
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { ManifestItemSchema } from "../../gen/imeifed/v1/federation_pb.js";
import { createClient, type Client } from "../../rpc/index.js";
import { imeiOf, startScreeningFederation, type ScreeningFederation } from "./support/screening-federation.js";

type Request = MessageInitShape<typeof ScreenRequestSchema>;
const MB = 1024 * 1024;

/** Heap plus array buffers (the seen-device set lives in typed arrays), sampled every 50 ms. */
function sampleMemory() {
  const samples: number[] = [];
  const take = () => {
    const m = process.memoryUsage();
    samples.push(m.heapUsed + m.arrayBuffers);
  };
  take();
  const timer = setInterval(take, 50);
  return {
    samples,
    stop() {
      clearInterval(timer);
      take();
    },
  };
}

/** A manifest generated as it is sent: `batches` batches of `size` items made by `item(i)`. */
function manifest(batches: number, size: number, item: (i: number) => MessageInitShape<typeof ManifestItemSchema>, counter: { produced: number }) {
  return (async function* (): AsyncGenerator<Request> {
    yield { message: { case: "shipment", value: { declarationReference: "DEC-BIG", destinationCountry: "HK", onUnanswered: UnansweredPolicy.HOLD } } };
    for (let b = 0; b < batches; b++) {
      const items: MessageInitShape<typeof ManifestItemSchema>[] = [];
      for (let i = 0; i < size; i++) items.push(item(b * size + i));
      counter.produced += size;
      yield { message: { case: "items", value: { items } } };
    }
  })();
}

describe("screening memory stays flat (back-pressure end to end)", function () {
  this.timeout(120_000);
  let fed: ScreeningFederation;
  let client: Client<typeof FederationService>;

  before(async () => {
    fed = await startScreeningFederation({ countries: ["GB"], seed: { GB: [{ imeis: [imeiOf("35693803123456")] }] } });
    // Large upstream batches and a small cache (LRU and clean-answer table): the cache is bounded by its own
    // config, and the table's reclaiming runs many times on the way; this test is about what screening itself holds.
    const gateway = await fed.startGateway([{ country: "GB", address: fed.registries.get("GB")!.registry.address, batchLimit: 5_000 }], {
      cache: { maxEntries: 10_000, cleanMaxEntries: 50_000 },
    });
    client = createClient(FederationService, gateway.address, { metadata: fed.trust.metadataFor("customs-gb", "gateway") });
  });
  after(async () => {
    client?.close();
    await fed?.cleanup();
  });

  it("a slow reader stops the reading of the manifest instead of filling memory", async () => {
    const counter = { produced: 0 };
    const abort = new AbortController();
    // Each wait for the transport to drain must leave no listener behind.
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
    process.on("warning", onWarning);
    const memory = sampleMemory();
    // Every item is a finding (MALFORMED), so every item is a response to write.
    const responses = client.screen(manifest(1_000, 1_000, (i) => ({ deviceId: `bad-${i}` }), counter), { signal: abort.signal })[Symbol.asyncIterator]();
    let read = 0;
    let producedAfter1s = 0;
    const started = Date.now();
    try {
      while (Date.now() - started < 2_000) {
        const next = await responses.next();
        assert.ok(!next.done);
        read++;
        if (producedAfter1s === 0 && Date.now() - started >= 1_000) producedAfter1s = counter.produced;
        await sleep(10);
      }
    } finally {
      memory.stop();
      abort.abort();
      await responses.return?.(undefined).catch(() => undefined);
      process.off("warning", onWarning);
    }
    assert.deepEqual(warnings.filter((w) => /MaxListeners/.test(w)), []);
    assert.ok(read > 50 && read < 300, `read ${read} responses`);
    // Without back-pressure the gateway would have taken the whole million by now.
    assert.ok(counter.produced <= 150_000, `the client was let to send ${counter.produced} items while ${read} responses were read`);
    assert.ok(counter.produced - producedAfter1s <= 10_000, `reading went on while the reader stalled: ${producedAfter1s} -> ${counter.produced}`);
    const growth = Math.max(...memory.samples) - memory.samples[0]!;
    assert.ok(growth < 150 * MB, `memory grew by ${Math.round(growth / MB)} MB`);
  });

  it("screens a 1,000,000-item manifest with bounded memory", async () => {
    const counter = { produced: 0 };
    const memory = sampleMemory();
    let summary: ScreeningSummary | undefined;
    let findings = 0;
    // Distinct valid IMEIs, one of them listed in GB.
    for await (const r of client.screen(manifest(1_000, 1_000, (i) => ({ deviceId: imeiOf(`35693803${String(i).padStart(6, "0")}`) }), counter)) as AsyncIterable<ScreenResponse>) {
      if (r.message.case === "summary") summary = r.message.value;
      if (r.message.case === "finding") findings++;
    }
    memory.stop();
    assert.ok(summary);
    assert.equal(summary.itemsScreened, 1_000_000n);
    assert.equal(summary.counts.find((c) => c.outcome === ScreeningOutcome.PROHIBITED)?.count, 1n);
    assert.equal(summary.counts.find((c) => c.outcome === ScreeningOutcome.CLEAR)?.count, 999_999n);
    assert.equal(findings, 1);
    // Live memory shows in the troughs between collections: the lowest third-by-third
    // must not climb with the manifest (a leak of even 100 bytes an item would add ~95 MB).
    const third = Math.floor(memory.samples.length / 3);
    const low = (from: number, to: number) => Math.min(...memory.samples.slice(from, to));
    const early = low(0, third);
    const late = low(2 * third, memory.samples.length);
    assert.ok(late - early < 64 * MB, `the memory floor rose from ${Math.round(early / MB)} MB to ${Math.round(late / MB)} MB`);
    const peak = Math.max(...memory.samples) - memory.samples[0]!;
    assert.ok(peak < 400 * MB, `peak growth ${Math.round(peak / MB)} MB`);
  });
});
