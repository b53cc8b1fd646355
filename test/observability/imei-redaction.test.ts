import assert from "node:assert/strict";
import { mask } from "../../device/index.js";
import { redactImeis } from "../../observability/index.js";

describe("IMEI redaction", () => {
  it("masks IMEIs, IMEISVs and device keys, in the forms people write them", () => {
    assert.equal(redactImeis("imei 490154203237518 seen"), `imei ${mask("490154203237518")} seen`);
    assert.equal(redactImeis("sv 4901542032375104"), `sv ${mask("4901542032375104")}`);
    assert.equal(redactImeis("key=49015420323751"), `key=${mask("49015420323751")}`);
    assert.equal(redactImeis("urn:gsma:imei:49015420-323751-8"), `urn:gsma:imei:${mask("490154203237518")}`);
    assert.equal(redactImeis("49 015420 323751 8"), mask("490154203237518"));
  });

  it("leaves alone what is not an IMEI: timestamps, addresses, trace ids and longer numbers", () => {
    for (const text of [
      "at 1718000000000 ms",
      "127.0.0.1:50061",
      "trace 4bf92f3577b34da6a3ce929d012345678901234e",
      "card 12345678901234567890",
      "2025-03-01T10:00:00.000Z",
    ]) {
      assert.equal(redactImeis(text), text);
    }
  });
});
