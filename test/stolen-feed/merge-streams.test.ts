import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { mergeStreams } from "../../gateway/stolen-feed/merge-streams.js";

async function* items<T>(values: T[], delayMs = 0): AsyncGenerator<T> {
  for (const value of values) {
    if (delayMs) await sleep(delayMs);
    yield value;
  }
}

describe("merging registry streams", () => {
  it("yields every item of every source, each source in its own order", async () => {
    const out: string[] = [];
    for await (const item of mergeStreams([items(["a1", "a2", "a3"]), items(["b1", "b2"], 2), items<string>([])])) out.push(item);
    assert.deepEqual(out.filter((x) => x.startsWith("a")), ["a1", "a2", "a3"]);
    assert.deepEqual(out.filter((x) => x.startsWith("b")), ["b1", "b2"]);
  });

  it("takes turns between sources that are always ready, so none starves", async () => {
    const forever = (name: string) =>
      (async function* () {
        for (let i = 0; ; i++) yield `${name}${i}`;
      })();
    const out: string[] = [];
    for await (const item of mergeStreams([forever("a"), forever("b")])) {
      out.push(item);
      if (out.length === 20) break;
    }
    const fromB = out.filter((x) => x.startsWith("b")).length;
    assert.ok(fromB >= 8 && fromB <= 12, `b got ${fromB} of 20 turns`);
  });

  it("does not let a silent source hold back a lively one", async () => {
    const silent = (async function* () {
      await new Promise(() => {}); // never settles, holds no timer
      yield "never";
    })();
    const out: string[] = [];
    for await (const item of mergeStreams([silent, items(["x", "y"])])) {
      out.push(item);
      if (out.length === 2) break;
    }
    assert.deepEqual(out, ["x", "y"]);
  });

  it("pulls a source's next item only after the previous one was handled (back-pressure)", async () => {
    let pulled = 0;
    const counted = (async function* () {
      for (let i = 0; i < 100; i++) {
        pulled++;
        yield i;
      }
    })();
    const merged = mergeStreams([counted]);
    await merged.next();
    await sleep(20);
    assert.ok(pulled <= 2, `pulled ${pulled} items while only 1 was handled`);
    await merged.return();
  });

  it("ends with the error of a failing source", async () => {
    const failing = (async function* () {
      yield 1;
      throw new Error("registry stream broke");
    })();
    await assert.rejects(async () => {
      for await (const _ of mergeStreams([failing, items([2, 3], 5)])) void _;
    }, /registry stream broke/);
  });
});
