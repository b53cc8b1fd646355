import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import { DeviceStatus } from "../../gen/imeifed/v1/device_pb.js";
import { RegistryFindingSchema, UnansweredReason, UnansweredSchema, Verdict } from "../../gen/imeifed/v1/federation_pb.js";
import { verdictOf } from "../../gateway/lookup/verdict.js";

const finding = (country: string, status: DeviceStatus, stale = false) => create(RegistryFindingSchema, { finding: { country, status }, stale });
const unanswered = (country: string) => create(UnansweredSchema, { country, reason: UnansweredReason.UNAVAILABLE });

describe("gateway verdict rules", () => {
  const cases: [string, Parameters<typeof verdictOf>[0], Verdict][] = [
    ["PERMITTED when every registry answered and none lists it", { findings: [], unanswered: [] }, Verdict.PERMITTED],
    ["UNKNOWN when none lists it but one did not answer", { findings: [], unanswered: [unanswered("JP")] }, Verdict.UNKNOWN],
    ["PROHIBITED when one registry prohibits", { findings: [finding("GB", DeviceStatus.PROHIBITED)], unanswered: [] }, Verdict.PROHIBITED],
    ["PROHIBITED wins over TRACKED, in any order", { findings: [finding("BR", DeviceStatus.TRACKED), finding("GB", DeviceStatus.PROHIBITED)], unanswered: [] }, Verdict.PROHIBITED],
    ["TRACKED when one tracks and none prohibits", { findings: [finding("BR", DeviceStatus.TRACKED)], unanswered: [] }, Verdict.TRACKED],
    ["TRACKED even when another registry did not answer", { findings: [finding("BR", DeviceStatus.TRACKED)], unanswered: [unanswered("GB")] }, Verdict.TRACKED],
    ["PROHIBITED from a stale finding of a registry that is down", { findings: [finding("GB", DeviceStatus.PROHIBITED, true)], unanswered: [unanswered("GB")] }, Verdict.PROHIBITED],
  ];
  for (const [name, answer, expected] of cases) {
    it(name, () => assert.equal(Verdict[verdictOf(answer)], Verdict[expected]));
  }
});
