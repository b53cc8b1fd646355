import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { Code, ImeifedError } from "../../errors/index.js";
import { readCsvRecords, TacDatabase } from "../../device/index.js";

const SAMPLE = fileURLToPath(new URL("../fixtures/tac-sample.csv", import.meta.url));

async function records(chunks: string[]) {
  const out: { fields: string[]; line: number }[] = [];
  for await (const r of readCsvRecords(chunks)) out.push({ fields: r.fields, line: r.line });
  return out;
}

describe("CSV records", () => {
  it("reads quoted fields with commas, doubled quotes and line breaks, across chunk boundaries", async () => {
    const text = '\ufeffa,"b,1","say ""hi"""\r\n\r\n"multi\nline",x\nlast,"q"';
    const whole = await records([text]);
    assert.deepEqual(whole, [
      { fields: ["a", "b,1", 'say "hi"'], line: 1 },
      { fields: ["multi\nline", "x"], line: 3 },
      { fields: ["last", "q"], line: 5 },
    ]);
    // Every split point gives the same records.
    for (let cut = 1; cut < text.length; cut++) {
      assert.deepEqual(await records([text.slice(0, cut), text.slice(cut)]), whole, `cut at ${cut}`);
    }
  });

  it("names the line of a quote that never closes", async () => {
    await assert.rejects(records(['ok,1\nbad,"open\nstill']), /line 2: a quoted field is never closed/);
  });
});

describe("TAC database (Osmocom export format)", () => {
  it("loads make and model per TAC from the banner + header export, skipping unusable rows", async () => {
    const tac = await TacDatabase.load(SAMPLE);
    assert.deepEqual(tac.lookup("35693803"), { make: "Apple", model: "iPhone 12" });
    assert.deepEqual(tac.lookup("35332011"), { make: "Samsung", model: "Galaxy S21" });
    assert.deepEqual(tac.lookup("49015420"), { make: "Nokia", model: '3310 "classic"' });
    assert.deepEqual(tac.lookup("01234567"), { make: "Sony Ericsson", model: "K800i" });
    assert.equal(tac.lookup("12345678"), undefined);
    assert.equal(tac.size, 5);
    assert.equal(tac.skipped, 2); // the 4-digit TAC and the row without a make
  });

  it("takes make and model from the two `name` columns wherever the header puts them", async () => {
    const tac = await TacDatabase.read(["tac,comment,name,name\n", "86751306,note,Xiaomi,Redmi 9A\n"]);
    assert.deepEqual(tac.lookup("86751306"), { make: "Xiaomi", model: "Redmi 9A" });
  });

  it("reads a file without header as tac,make,model", async () => {
    const tac = await TacDatabase.read(["86751306,Xiaomi,Redmi 9A\n"]);
    assert.deepEqual(tac.lookup("86751306"), { make: "Xiaomi", model: "Redmi 9A" });
  });

  it("fails with the path when the file is missing, and with the line when it cannot be parsed", async () => {
    await assert.rejects(TacDatabase.load("/nonexistent/tac.csv"), (e: unknown) => e instanceof ImeifedError && e.code === Code.INVALID_ARGUMENT && /\/nonexistent\/tac\.csv/.test(e.message));
    await assert.rejects(TacDatabase.read(["tac,name,name\n", '35693803,"Apple,iPhone\n'], "t.csv"), /t\.csv: line 2/);
  });
});
