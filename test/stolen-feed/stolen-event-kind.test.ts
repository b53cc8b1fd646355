import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { ChangeKind, ChangeSchema } from "../../gen/imeifed/v1/registry_pb.js";
import { DeviceStatus } from "../../gen/imeifed/v1/device_pb.js";
import { StolenEventKind } from "../../gen/imeifed/v1/federation_pb.js";
import { stolenEventIdOf, stolenEventKindOf } from "../../gateway/stolen-feed/stolen-event-kind.js";

const P = DeviceStatus.PROHIBITED;
const T = DeviceStatus.TRACKED;
const OK = DeviceStatus.PERMITTED;

function change(kind: ChangeKind, recordVerified: boolean, statusAfter: DeviceStatus, holdVerified?: boolean) {
  return create(ChangeSchema, {
    sequence: 1n,
    kind,
    deviceKey: "35693803123456",
    status: statusAfter,
    verified: recordVerified,
    ...(holdVerified === undefined ? {} : { finding: { status: statusAfter, verified: holdVerified } }),
  });
}

describe("stolen event kind (which changes reach a manufacturer)", () => {
  const table: Array<[string, ReturnType<typeof change>, StolenEventKind | undefined]> = [
    ["a verified theft report", change(ChangeKind.REPORTED, true, P, true), StolenEventKind.STOLEN_VERIFIED],
    ["a verified recovery-mode report", change(ChangeKind.REPORTED, true, T, true), StolenEventKind.TRACKED],
    ["an unverified theft report", change(ChangeKind.REPORTED, false, P, false), undefined],
    ["an unverified report on top of a verified one", change(ChangeKind.REPORTED, false, P, true), undefined],
    ["a verified tracked report while an unverified prohibition holds", change(ChangeKind.REPORTED, true, P, false), undefined],
    ["the clearing of a verified report leaving the device permitted", change(ChangeKind.CLEARED, true, OK), StolenEventKind.CLEARED],
    ["the clearing of a verified report leaving only unverified reports", change(ChangeKind.CLEARED, true, P, false), StolenEventKind.CLEARED],
    ["the clearing of a verified report leaving a verified recovery-mode report", change(ChangeKind.CLEARED, true, T, true), StolenEventKind.TRACKED],
    ["the clearing of one verified report while another verified one holds", change(ChangeKind.CLEARED, true, P, true), undefined],
    ["the clearing of an unverified report", change(ChangeKind.CLEARED, false, OK), undefined],
    ["a change of unknown kind", change(ChangeKind.UNSPECIFIED, true, P, true), undefined],
  ];
  for (const [what, input, expected] of table) {
    it(`${what} -> ${expected === undefined ? "no event" : StolenEventKind[expected]}`, () => {
      assert.equal(stolenEventKindOf(input), expected);
    });
  }

  it("names an event <country>:<epoch>:<sequence>", () => {
    assert.equal(stolenEventIdOf("GB", "e-1", 42n), "GB:e-1:42");
  });
});
