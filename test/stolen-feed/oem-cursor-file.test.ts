import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ImeifedError } from "../../errors/index.js";
import { EMPTY_STATE, readCursorFile, writeCursorFile } from "../../oem/cursor-file.js";
import { RecentEventIds } from "../../oem/recent-event-ids.js";

describe("manufacturer's cursor file", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "imeifed-oem-cursor-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("starts empty when the file does not exist yet", async () => {
    assert.deepEqual(await readCursorFile(join(dir, "cursor.json")), EMPTY_STATE);
  });

  it("keeps the cursor and recent event ids across a restart, leaving no temp file behind", async () => {
    const path = join(dir, "cursor.json");
    await writeCursorFile(path, { cursor: "abc", recentEventIds: ["GB:e:1"] });
    await writeCursorFile(path, { cursor: "def", recentEventIds: ["GB:e:1", "GB:e:2"] });
    assert.deepEqual(await readCursorFile(path), { cursor: "def", recentEventIds: ["GB:e:1", "GB:e:2"] });
    assert.deepEqual(await readdir(dir), ["cursor.json"]);
  });

  it("never leaves a torn file: a reader during many writes sees one whole state or another", async () => {
    const path = join(dir, "cursor.json");
    await writeCursorFile(path, { cursor: "0", recentEventIds: [] });
    const writes = (async () => {
      for (let i = 1; i <= 30; i++) await writeCursorFile(path, { cursor: String(i), recentEventIds: Array.from({ length: 200 }, (_, j) => `GB:e:${i}-${j}`) });
    })();
    let reads = 0;
    let finished = false;
    void writes.then(() => (finished = true));
    while (!finished) {
      const state = await readCursorFile(path);
      assert.match(state.cursor, /^\d+$/);
      reads++;
    }
    await writes;
    assert.ok(reads > 0);
    assert.equal((await readCursorFile(path)).cursor, "30");
  });

  it("refuses a damaged file instead of silently starting over", async () => {
    const path = join(dir, "cursor.json");
    for (const body of ["{half", JSON.stringify({ version: 9, cursor: "", recentEventIds: [] }), JSON.stringify({ version: 1, recentEventIds: [] })]) {
      await writeFile(path, body);
      await assert.rejects(readCursorFile(path), (error: unknown) => {
        assert.ok(error instanceof ImeifedError);
        assert.equal(error.code, Code.FAILED_PRECONDITION);
        assert.match(error.message, /delete it to replay the feed from the beginning/);
        return true;
      });
    }
  });

  it("writes the file readable by its owner only (it tells which phones are stolen)", async () => {
    const path = join(dir, "cursor.json");
    await writeCursorFile(path, { cursor: "x", recentEventIds: [] });
    const { stat } = await import("node:fs/promises");
    assert.equal((await stat(path)).mode & 0o077, 0);
    assert.match(await readFile(path, "utf8"), /"version": 1/);
  });
});

describe("recent event ids", () => {
  it("remembers what it saw and forgets the oldest beyond its capacity", () => {
    const ids = new RecentEventIds(["a", "b"], 3);
    ids.add("c");
    ids.add("d");
    assert.equal(ids.has("a"), false);
    assert.deepEqual(ids.toArray(), ["b", "c", "d"]);
    ids.add("b");
    assert.deepEqual(ids.toArray(), ["c", "d", "b"]);
  });
});
