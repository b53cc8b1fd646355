/**
 * The one text rule of the contract, character by character, and how an
 * error message quotes what a caller sent.
 */
import assert from "node:assert/strict";
import { checkText, isPlainText } from "../../contract/index.js";
import { Code, ImeifedError, quote } from "../../errors/index.js";

describe("the contract's text rule", () => {
  const refused: [string, string][] = [
    ["NUL", "\u0000"],
    ["TAB", "\t"],
    ["LF", "\n"],
    ["CR", "\r"],
    ["ESC", "\u001b"],
    ["DEL", "\u007f"],
    ["C1 NEL", "\u0085"],
    ["C1 CSI", "\u009b"],
    ["line separator", "\u2028"],
    ["paragraph separator", "\u2029"],
    ["right-to-left override", "\u202e"],
    ["left-to-right embedding", "\u202a"],
    ["first strong isolate", "\u2068"],
    ["pop directional isolate", "\u2069"],
  ];
  for (const [name, char] of refused) {
    it(`refuses ${name} anywhere in a text, naming the field, the character and where it stands`, () => {
      assert.equal(isPlainText(`AB${char}C`, 100), false);
      assert.throws(
        () => checkText(`AB${char}C`, "found.contact", 100),
        (e: ImeifedError) =>
          e.code === Code.INVALID_ARGUMENT &&
          e.reason === "CONTROL_CHARACTER" &&
          e.field === "found.contact" &&
          e.message.startsWith("found.contact: holds ") &&
          e.message.includes(`(U+${char.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}) at position 3 of "AB`),
      );
    });
  }

  it("accepts plain text in any script, with left-to-right and right-to-left marks", () => {
    for (const text of ["Policía Nacional", "警察庁", "مركز الشرطة\u200f 12", "Zoë \u200eO'Brien-Smith", "🙂", ""]) assert.equal(isPlainText(text, 100), true, text);
  });

  it("refuses a text over its field's limit as TOO_LONG, without quoting it", () => {
    assert.equal(checkText("x".repeat(200), "purpose", 200).length, 200);
    assert.throws(
      () => checkText("x".repeat(8192), "purpose", 200),
      (e: ImeifedError) => e.reason === "TOO_LONG" && e.message === "purpose: is 8192 characters long; at most 200 are accepted",
    );
  });
});

describe("quote: what an error message shows of a caller's value", () => {
  it("shows a short value whole, escaped, in double quotes", () => {
    assert.equal(quote("GB"), '"GB"');
    assert.equal(quote('a"b\\c'), '"a\\"b\\\\c"');
    assert.equal(quote("a\r\nb\u0000\u001b[31m\u202e\u2028"), '"a\\r\\nb\\u0000\\u001b[31m\\u202e\\u2028"');
    assert.equal(quote("Zürich 警察 🙂"), '"Zürich 警察 🙂"');
  });

  it("shows at most 32 code points of a long value, and its length, never splitting a character", () => {
    assert.equal(quote("7".repeat(64 * 1024)), `"${"7".repeat(32)}"… (65536 characters)`);
    const emoji = "🙂".repeat(40);
    assert.equal(quote(emoji), `"${"🙂".repeat(32)}"… (80 characters)`);
    assert.ok(quote("\u0000".repeat(10_000)).length < 250);
  });
});
