import assert from "node:assert/strict";
import { tacFilterFor } from "../../gateway/stolen-feed/tac-filter.js";

describe("stolen feed TAC filter", () => {
  const oem = tacFilterFor(["35693803", "86"]);

  it("admits the devices whose TAC starts with one of the manufacturer's prefixes", () => {
    assert.equal(oem("35693803123456"), true);
    assert.equal(oem("86012345678901"), true);
  });

  it("refuses another manufacturer's devices, including a TAC that only shares a shorter prefix", () => {
    assert.equal(oem("35693804123456"), false);
    assert.equal(oem("35123456123456"), false);
    assert.equal(oem("01234567123456"), false);
  });

  it("matches nothing for an empty list or malformed prefixes (deny by default)", () => {
    assert.equal(tacFilterFor([])("35693803123456"), false);
    assert.equal(tacFilterFor(["", "35x", "123456789"])("35693803123456"), false);
  });

  it("refuses anything that is not a 14-digit device key", () => {
    assert.equal(oem("86"), false);
    assert.equal(oem("860123456789012"), false);
  });
});
