import assert from "node:assert/strict";
import fc from "fast-check";
import {
  AVP,
  DECODE_PROBLEMS,
  HEADER_LENGTH,
  avpOf,
  decodeAvps,
  decodeHeader,
  decodeMessage,
  encodeAvp,
  encodeMessage,
  encodedAvpLength,
  findAvp,
  valueOf,
  type DiameterAvp,
  type DiameterMessage,
} from "../../../networks/s13/diameter/index.js";

const u32 = fc.nat({ max: 0xffff_ffff });
const avpArb: fc.Arbitrary<DiameterAvp> = fc.record({
  code: u32,
  vendorId: fc.oneof(fc.constant(0), fc.constant(10415), fc.integer({ min: 1, max: 0xffff_ffff })),
  mandatory: fc.boolean(),
  protected: fc.boolean(),
  data: fc.uint8Array({ maxLength: 40 }).map((a) => Buffer.from(a)),
});
const messageArb: fc.Arbitrary<DiameterMessage> = fc
  .record({
    request: fc.boolean(),
    proxiable: fc.boolean(),
    error: fc.boolean(),
    retransmitted: fc.boolean(),
    commandCode: fc.nat({ max: 0xff_ffff }),
    applicationId: u32,
    hopByHop: u32,
    endToEnd: u32,
    avps: fc.array(avpArb, { maxLength: 8 }),
  })
  .map((m) => ({ ...m, error: m.request ? false : m.error }));

function plain(m: DiameterMessage) {
  return { ...m, avps: m.avps.map((a) => ({ ...a, data: Buffer.from(a.data) })) };
}

describe("Diameter codec (networks/s13/diameter)", () => {
  it("decodes what it encodes, for any message", () => {
    fc.assert(
      fc.property(messageArb, (message) => {
        const bytes = encodeMessage(message);
        const back = decodeMessage(bytes);
        assert.ok(back.ok, back.ok ? "" : back.error.message);
        assert.deepEqual(plain(back.value), plain(message));
        assert.equal(bytes.readUIntBE(1, 3), bytes.length);
      }),
      { numRuns: 500 },
    );
  });

  it("pads every data length to 4 bytes with zeros, and the AVP length excludes the padding", () => {
    for (const vendorId of [0, 10415]) {
      for (let n = 0; n <= 9; n++) {
        const data = Buffer.alloc(n, 0xab);
        const bytes = encodeAvp({ code: 1402, vendorId, mandatory: true, protected: false, data });
        const header = vendorId ? 12 : 8;
        assert.equal(bytes.length % 4, 0, `length ${n}`);
        assert.equal(bytes.length, header + n + ((4 - (n % 4)) % 4));
        assert.equal(bytes.readUIntBE(5, 3), header + n, "the AVP length has no padding");
        assert.ok(bytes.subarray(header + n).every((b) => b === 0), "padding is zeros");
        assert.equal(encodedAvpLength({ vendorId, data }), bytes.length);
        const back = decodeAvps(bytes);
        assert.ok(back.ok);
        assert.deepEqual(back.value[0]?.data, data);
        // A Grouped AVP may end at its last inner AVP's data, without the padding.
        const unpadded = decodeAvps(bytes.subarray(0, header + n));
        assert.ok(unpadded.ok);
        assert.deepEqual(unpadded.value[0]?.data, data);
      }
    }
  });

  it("writes the bytes RFC 6733 lays out (a hand-encoded Result-Code and a 3GPP IMEI)", () => {
    assert.equal(encodeAvp(avpOf(AVP.ResultCode, 2001)).toString("hex"), "0000010c4000000c000007d1");
    assert.equal(encodeAvp(avpOf(AVP.Imei, "35291611000008")).toString("hex"), "0000057ac000001a000028af" + Buffer.from("35291611000008").toString("hex") + "0000");
    const header = encodeMessage({ request: true, proxiable: true, error: false, retransmitted: false, commandCode: 324, applicationId: 16777252, hopByHop: 1, endToEnd: 2, avps: [] });
    assert.equal(header.toString("hex"), "01000014c0000144010000240000000100000002");
  });

  it("reads typed values back: Unsigned32, Enumerated, UTF8String, DiameterIdentity, Address, Grouped", () => {
    fc.assert(
      fc.property(u32, fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), fc.string({ unit: "grapheme", maxLength: 30 }), (n, e, text) => {
        const rc = valueOf(AVP.ResultCode, avpOf(AVP.ResultCode, n));
        assert.ok(rc.ok && rc.value === n);
        const es = valueOf(AVP.EquipmentStatus, avpOf(AVP.EquipmentStatus, e));
        assert.ok(es.ok && es.value === e);
        const un = valueOf(AVP.UserName, avpOf(AVP.UserName, text));
        assert.ok(un.ok && un.value === text);
      }),
    );
    const host = valueOf(AVP.OriginHost, avpOf(AVP.OriginHost, "mme1.epc.mnc001.mcc603.3gppnetwork.org"));
    assert.ok(host.ok && host.value === "mme1.epc.mnc001.mcc603.3gppnetwork.org");
    for (const [ip, want] of [
      ["127.0.0.1", "127.0.0.1"],
      ["::1", "0:0:0:0:0:0:0:1"],
      ["2001:db8::8:800:200c:417a", "2001:db8:0:0:8:800:200c:417a"],
      ["::ffff:10.0.0.1", "0:0:0:0:0:ffff:a00:1"],
    ] as const) {
      const a = valueOf(AVP.HostIpAddress, avpOf(AVP.HostIpAddress, ip));
      assert.ok(a.ok, ip);
      assert.equal(a.value, want);
    }
    const terminal = avpOf(AVP.TerminalInformation, [avpOf(AVP.Imei, "35291611000008"), avpOf(AVP.SoftwareVersion, "07")]);
    const inner = valueOf(AVP.TerminalInformation, terminal);
    assert.ok(inner.ok);
    const imei = findAvp(inner.value, AVP.Imei);
    assert.ok(imei);
    assert.deepEqual(valueOf(AVP.Imei, imei), { ok: true, value: "35291611000008" });
    assert.equal(findAvp(inner.value, AVP.UserName), undefined);
  });

  it("answers wrong values with AVP_VALUE (5004) and the AVP to blame", () => {
    const short = { ...avpOf(AVP.ResultCode, 1), data: Buffer.from([0, 1]) };
    const r = valueOf(AVP.ResultCode, short);
    assert.ok(!r.ok);
    assert.equal(r.error.problem, "AVP_VALUE");
    assert.equal(r.error.resultCode, 5004);
    assert.equal(r.error.avp, short);
    const badUtf8 = { ...avpOf(AVP.Imei, ""), data: Buffer.from([0xc3, 0x28]) };
    assert.equal((valueOf(AVP.Imei, badUtf8) as { error: { problem: string } }).error.problem, "AVP_VALUE");
    const badHost = avpOf(AVP.OriginHost, "has space");
    assert.equal((valueOf(AVP.OriginHost, badHost) as { error: { problem: string } }).error.problem, "AVP_VALUE");
    const badAddress = { ...avpOf(AVP.HostIpAddress, "10.0.0.1"), data: Buffer.from([0, 1, 10]) };
    assert.equal((valueOf(AVP.HostIpAddress, badAddress) as { error: { problem: string } }).error.problem, "AVP_VALUE");
    const badGroup = { ...avpOf(AVP.TerminalInformation, []), data: Buffer.from([0, 0, 5, 0x7a, 0xc0, 0, 0, 0xff]) };
    const g = valueOf(AVP.TerminalInformation, badGroup);
    assert.ok(!g.ok);
    assert.equal(g.error.problem, "AVP_LENGTH");
    assert.equal(g.error.avp, badGroup, "the outer AVP is blamed");
  });

  it("names each header problem with its result code", () => {
    const good = encodeMessage({ request: true, proxiable: false, error: false, retransmitted: false, commandCode: 280, applicationId: 0, hopByHop: 7, endToEnd: 8, avps: [avpOf(AVP.OriginHost, "a.b")] });
    const problem = (bytes: Buffer) => {
      const r = decodeMessage(bytes);
      assert.ok(!r.ok);
      return [r.error.problem, r.error.resultCode];
    };
    assert.deepEqual(problem(good.subarray(0, 19)), ["HEADER_TRUNCATED", 5015]);
    const v2 = Buffer.from(good);
    v2[0] = 2;
    assert.deepEqual(problem(v2), ["UNSUPPORTED_VERSION", 5011]);
    const odd = Buffer.from(good);
    odd.writeUIntBE(good.length + 1, 1, 3);
    assert.deepEqual(problem(odd), ["MESSAGE_LENGTH", 5015]);
    const lie = Buffer.from(good);
    lie.writeUIntBE(good.length + 4, 1, 3);
    assert.deepEqual(problem(lie), ["MESSAGE_LENGTH", 5015]);
    const tiny = Buffer.from(good);
    tiny.writeUIntBE(16, 1, 3);
    assert.deepEqual(problem(tiny), ["MESSAGE_LENGTH", 5015]);
    const eOnRequest = Buffer.from(good);
    eOnRequest[4] = 0xa0;
    assert.deepEqual(problem(eOnRequest), ["HEADER_BITS", 3008]);
    const avpLie = Buffer.from(good);
    avpLie.writeUIntBE(200, HEADER_LENGTH + 5, 3);
    assert.deepEqual(problem(avpLie), ["AVP_LENGTH", 5014]);
    const avpShort = Buffer.from(good);
    avpShort.writeUIntBE(4, HEADER_LENGTH + 5, 3);
    assert.deepEqual(problem(avpShort), ["AVP_LENGTH", 5014]);
    const header = decodeHeader(good);
    assert.ok(header.ok);
    assert.deepEqual([header.value.commandCode, header.value.hopByHop, header.value.endToEnd, header.value.length], [280, 7, 8, good.length]);
  });

  it("never throws on garbage: any bytes decode to a message or a known problem", () => {
    const problems = new Set(Object.keys(DECODE_PROBLEMS));
    const check = (bytes: Buffer) => {
      const r = decodeMessage(bytes);
      if (!r.ok) assert.ok(problems.has(r.error.problem), r.error.problem);
      const avps = decodeAvps(bytes);
      if (avps.ok) for (const avp of avps.value) for (const def of Object.values(AVP)) valueOf(def, avp);
    };
    fc.assert(fc.property(fc.uint8Array({ maxLength: 200 }), (a) => check(Buffer.from(a))), { numRuns: 2000 });
    // Mutations of valid messages reach deeper than random bytes do.
    fc.assert(
      fc.property(messageArb, fc.array(fc.tuple(fc.nat(), fc.nat({ max: 255 })), { minLength: 1, maxLength: 6 }), (message, edits) => {
        const bytes = Buffer.from(encodeMessage(message));
        for (const [at, value] of edits) bytes[at % bytes.length] = value;
        check(bytes);
      }),
      { numRuns: 2000 },
    );
  });
});
