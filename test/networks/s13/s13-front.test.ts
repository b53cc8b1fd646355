import assert from "node:assert/strict";
import { readFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { ClearReason } from "../../../gen/imeifed/v1/device_pb.js";
import { SightingKind } from "../../../gen/imeifed/v1/registry_pb.js";
import { APPLICATION, AVP, COMMAND, avpOf, encodeMessage, findAvp, valueOf } from "../../../networks/s13/diameter/index.js";
import { openAuditLog } from "../../../trust/audit/index.js";
import { luhnCheckDigit } from "../../../device/index.js";
import { watchForSighting } from "../../screening/support/screening-federation.js";
import { within } from "../../support/waiting.js";
import { dissect, wiresharkMissing } from "./support/wireshark.js";
import { DiameterClient, MME, equipmentStatusOf, experimentalResultOf, failedAvpOf, resultCodeOf } from "./support/diameter-client.js";
import { EIR, MME_EG, MME_ELSEWHERE, freshImei, startS13Federation, type S13Federation } from "./support/s13-federation.js";

const STOLEN_GB = freshImei();
const TRACKED_ES = freshImei();
const IMSI = "603019876543210";

describe("S13 ME-Identity-Check over real TCP against five real registries (imeifed gateway serve)", function () {
  this.timeout(60_000);
  let fed: S13Federation;
  let mme: DiameterClient;

  before(async () => {
    fed = await startS13Federation({ gb: [STOLEN_GB], esTracked: [TRACKED_ES] });
    mme = await DiameterClient.open(fed.s13Port);
  });
  after(async () => {
    mme?.close();
    await fed?.stop();
  });

  const status = async (imei: string, client = mme) => {
    const answer = await client.ask(client.meIdentityCheck(imei));
    return `${resultCodeOf(answer)}/${equipmentStatusOf(answer)}`;
  };

  describe("capabilities exchange and the base protocol", () => {
    it("answers CER with 2001, its identity and S13 (16777252, vendor 10415), echoing both ids", async () => {
      const client = await DiameterClient.connect(fed.s13Port);
      try {
        const cer = client.request(COMMAND.capabilitiesExchange, 0, [avpOf(AVP.HostIpAddress, "127.0.0.1"), avpOf(AVP.VendorId, 0), avpOf(AVP.ProductName, "mme"), avpOf(AVP.AuthApplicationId, APPLICATION.s13)]);
        const cea = await client.ask(cer);
        assert.equal(resultCodeOf(cea), 2001);
        assert.equal(cea.request, false);
        assert.equal(cea.error, false);
        assert.equal(cea.commandCode, 257);
        assert.equal(cea.hopByHop, cer.hopByHop);
        assert.equal(cea.endToEnd, cer.endToEnd);
        const host = valueOf(AVP.OriginHost, findAvp(cea.avps, AVP.OriginHost)!);
        assert.deepEqual(host, { ok: true, value: EIR.originHost });
        const vsai = valueOf(AVP.VendorSpecificApplicationId, findAvp(cea.avps, AVP.VendorSpecificApplicationId)!);
        assert.ok(vsai.ok);
        assert.deepEqual(valueOf(AVP.AuthApplicationId, findAvp(vsai.value, AVP.AuthApplicationId)!), { ok: true, value: 16_777_252 });
        assert.deepEqual(valueOf(AVP.VendorId, findAvp(vsai.value, AVP.VendorId)!), { ok: true, value: 10_415 });
        assert.deepEqual(valueOf(AVP.HostIpAddress, findAvp(cea.avps, AVP.HostIpAddress)!), { ok: true, value: "127.0.0.1" });
      } finally {
        client.close();
      }
    });

    it("refuses an unknown peer, a wrong realm and a peer from an address it may not use with 3010, and closes", async () => {
      for (const identity of [{ originHost: "mme.unknown.example", originRealm: "unknown.example" }, { ...MME, originRealm: "other.realm.example" }, MME_ELSEWHERE]) {
        const client = await DiameterClient.connect(fed.s13Port, identity);
        const cea = await client.exchangeCapabilities();
        assert.equal(resultCodeOf(cea), 3010, identity.originHost);
        assert.equal(cea.error, true, "3xxx answers carry the E bit");
        await client.closed;
      }
    });

    it("refuses a known peer that offers no S13 application with 5010, and closes", async () => {
      const client = await DiameterClient.connect(fed.s13Port);
      const cea = await client.exchangeCapabilities([avpOf(AVP.AuthApplicationId, 16_777_251)]);
      assert.equal(resultCodeOf(cea), 5010);
      await client.closed;
    });

    it("closes a connection that sends a request before its CER", async () => {
      const client = await DiameterClient.connect(fed.s13Port);
      client.write(client.meIdentityCheck(STOLEN_GB));
      await client.closed;
      assert.equal(client.received.length, 0);
    });

    it("answers DWR with DWA, sends its own DWR after watchdogMs of silence, and answers DPR with DPA then closes", async () => {
      const client = await DiameterClient.open(fed.s13Port);
      const dwr = client.request(COMMAND.deviceWatchdog, 0, []);
      const dwa = await client.ask(dwr);
      assert.equal(resultCodeOf(dwa), 2001);
      assert.equal(dwa.hopByHop, dwr.hopByHop);
      await within(2_500, async () => String(client.serverRequests.some((m) => m.commandCode === COMMAND.deviceWatchdog)), "true");
      const dpa = await client.ask(client.request(COMMAND.disconnectPeer, 0, [avpOf(AVP.DisconnectCause, 0)]));
      assert.equal(resultCodeOf(dpa), 2001);
      await client.closed;
    });

    it("closes a peer that leaves its DWR unanswered", async () => {
      const client = await DiameterClient.open(fed.s13Port);
      client.answerWatchdogs = false;
      const started = Date.now();
      await client.closed;
      const took = Date.now() - started;
      assert.ok(took >= 1_500 && took < 4_000, `closed after ${took} ms (watchdog 1000 ms: DWR after one silence, close after a second)`);
    });
  });

  describe("ME-Identity-Check", () => {
    it("answers BLACKLISTED (1) for a device PROHIBITED abroad, GREYLISTED (2) for a TRACKED one, WHITELISTED (0) otherwise", async () => {
      assert.equal(await status(STOLEN_GB), "2001/1");
      assert.equal(await status(TRACKED_ES), "2001/2");
      assert.equal(await status(freshImei()), "2001/0");
    });

    it("echoes Session-Id first and both ids, and takes a Software-Version and a 15th (check) digit", async () => {
      const request = mme.meIdentityCheck(STOLEN_GB, { softwareVersion: "07" });
      const answer = await mme.ask(request);
      assert.equal(answer.hopByHop, request.hopByHop);
      assert.equal(answer.endToEnd, request.endToEnd);
      assert.equal(answer.commandCode, 324);
      assert.equal(answer.applicationId, APPLICATION.s13);
      assert.equal(answer.avps[0]?.code, AVP.SessionId.code);
      assert.deepEqual(answer.avps[0]?.data, request.avps[0]?.data);
      assert.equal(equipmentStatusOf(answer), 1);
      assert.deepEqual(valueOf(AVP.AuthSessionState, findAvp(answer.avps, AVP.AuthSessionState)!), { ok: true, value: 1 });
      assert.equal(await status(STOLEN_GB + String(luhnCheckDigit(STOLEN_GB))), "2001/1");
    });

    it("answers Experimental-Result 5422 (vendor 10415) for an unlisted device to an operator whose onUnknown asks for it", async () => {
      const eg = await DiameterClient.open(fed.s13Port, MME_EG);
      try {
        const answer = await eg.ask(eg.meIdentityCheck(freshImei()));
        assert.deepEqual(experimentalResultOf(answer), { vendorId: 10_415, code: 5422 });
        assert.equal(resultCodeOf(answer), undefined);
        assert.equal(equipmentStatusOf(answer), undefined);
        assert.equal(await status(STOLEN_GB, eg), "2001/1", "a listed device is still answered");
      } finally {
        eg.close();
      }
    });

    it("answers a missing Terminal-Information or IMEI 5005 with Failed-AVP, and a malformed IMEI or Software-Version 5004", async () => {
      const noTerminal = await mme.ask(mme.meIdentityCheck("", { terminal: null }));
      assert.equal(resultCodeOf(noTerminal), 5005);
      assert.equal(failedAvpOf(noTerminal)?.code, 1401);
      assert.equal(failedAvpOf(noTerminal)?.vendorId, 10_415);
      const noImei = await mme.ask(mme.meIdentityCheck("", { terminal: avpOf(AVP.TerminalInformation, [avpOf(AVP.SoftwareVersion, "01")]) }));
      assert.equal(resultCodeOf(noImei), 5005);
      const failed = failedAvpOf(noImei)!;
      assert.equal(failed.code, 1401);
      const inner = valueOf(AVP.TerminalInformation, failed);
      assert.ok(inner.ok);
      assert.equal(inner.value[0]?.code, 1402, "Failed-AVP names the missing IMEI inside Terminal-Information");
      for (const imei of ["3569380310000", "3569380310000x", "356938031000001234", ""]) {
        const answer = await mme.ask(mme.meIdentityCheck(imei));
        assert.equal(resultCodeOf(answer), 5004, JSON.stringify(imei));
        assert.equal(failedAvpOf(answer)?.code, 1401);
      }
      const badVersion = await mme.ask(mme.meIdentityCheck(STOLEN_GB, { softwareVersion: "7" }));
      assert.equal(resultCodeOf(badVersion), 5004);
      // A wrong check digit is not malformed: it is a tampered IMEI, answered by the invalid-IMEI policy (GREYLISTED).
      const body = freshImei();
      const wrongCheck = body + String((luhnCheckDigit(body) + 1) % 10);
      assert.equal(await status(wrongCheck), "2001/2");
    });

    it("answers an unknown S13 or base command 3001, an unknown application 3007, both with the E bit", async () => {
      const unknownS13 = await mme.ask(mme.request(999, APPLICATION.s13, [avpOf(AVP.SessionId, "s;1")]));
      assert.equal(resultCodeOf(unknownS13), 3001);
      assert.equal(unknownS13.error, true);
      const unknownBase = await mme.ask(mme.request(999, 0, []));
      assert.equal(resultCodeOf(unknownBase), 3001);
      const s6a = await mme.ask(mme.request(316, 16_777_251, [avpOf(AVP.SessionId, "s;2")]));
      assert.equal(resultCodeOf(s6a), 3007);
      assert.equal(s6a.error, true);
      assert.equal(await status(STOLEN_GB), "2001/1", "the connection still serves");
    });

    it("answers an AVP whose length lies inside a well-framed message 5014, and the connection goes on", async () => {
      const request = mme.meIdentityCheck(STOLEN_GB);
      const bytes = encodeMessage(request);
      // The first AVP (Session-Id) claims more bytes than the message holds.
      bytes.writeUIntBE(bytes.length, 20 + 5, 3);
      const answer = await new Promise<number | undefined>((resolve) => {
        const before = mme.received.length;
        mme.write(bytes);
        const poll = setInterval(() => {
          // The first answer after it (a DWR the EIR may send meanwhile is a request, not an answer).
          const answer = mme.received.slice(before).find((bytes) => (bytes[4]! & 0x80) === 0);
          if (answer) {
            clearInterval(poll);
            resolve(answer.readUInt32BE(12));
          }
        }, 5);
      });
      assert.equal(answer, request.hopByHop);
      assert.equal(await status(TRACKED_ES), "2001/2");
    });
  });

  describe("a broken stream closes its own connection only", () => {
    for (const [what, corrupt] of [
      ["a header that is not Diameter version 1", (b: Buffer) => b.writeUInt8(2, 0)],
      ["a length that is not a multiple of 4", (b: Buffer) => b.writeUIntBE(b.length + 1, 1, 3)],
      ["a length below the header", (b: Buffer) => b.writeUIntBE(12, 1, 3)],
      ["a message over the size limit (4096 bytes)", (b: Buffer) => b.writeUIntBE(8_192, 1, 3)],
    ] as const) {
      it(`closes on ${what}; other connections go on`, async () => {
        const victim = await DiameterClient.open(fed.s13Port);
        const bytes = encodeMessage(victim.meIdentityCheck(STOLEN_GB));
        corrupt(bytes);
        victim.write(bytes);
        await victim.closed;
        assert.equal(await status(STOLEN_GB), "2001/1");
      });
    }

    it("a length lie that is never filled is closed by the watchdog, not held forever", async () => {
      const victim = await DiameterClient.open(fed.s13Port);
      const bytes = encodeMessage(victim.meIdentityCheck(STOLEN_GB));
      bytes.writeUIntBE(bytes.length + 400, 1, 3);
      victim.answerWatchdogs = false;
      victim.write(bytes);
      await victim.closed;
      assert.equal(await status(STOLEN_GB), "2001/1");
    });

    it("never crashes on garbage: random bytes close that connection, the gateway still answers", async () => {
      for (let i = 0; i < 20; i++) {
        const client = await DiameterClient.connect(fed.s13Port);
        const garbage = Buffer.alloc(64 + i * 13);
        for (let j = 0; j < garbage.length; j++) garbage[j] = (j * 7919 + i * 104_729) & 0xff;
        client.write(garbage);
        client.close();
      }
      assert.equal(await status(STOLEN_GB), "2001/1");
      assert.equal(fed.gateway.child.exitCode, null);
    });
  });

  describe("many requests in flight on one connection", () => {
    it("answers 60 concurrent checks, each matched to its request by hop-by-hop and end-to-end id", async () => {
      const devices = Array.from({ length: 60 }, (_, i) => (i % 3 === 0 ? STOLEN_GB : i % 3 === 1 ? TRACKED_ES : freshImei()));
      const requests = devices.map((imei) => mme.meIdentityCheck(imei));
      const answers = await Promise.all(requests.map((r) => mme.ask(r)));
      answers.forEach((answer, i) => {
        assert.equal(answer.endToEnd, requests[i]!.endToEnd);
        assert.equal(equipmentStatusOf(answer), i % 3 === 0 ? 1 : i % 3 === 1 ? 2 : 0);
      });
    });
  });

  describe("freshness, sightings and the budget", () => {
    it("a device reported in JP reads BLACKLISTED within 1 second, and WHITELISTED within 1 second of its clearing", async () => {
      const imei = freshImei();
      assert.equal(await status(imei), "2001/0");
      const jp = fed.registries.get("JP")!;
      await jp.report({ imeis: [imei], by: "police-jp" });
      await within(1_000, () => status(imei), "2001/1");
      await jp.client("police-jp").clearDevice({ imei, reason: ClearReason.RECOVERED });
      await within(1_000, () => status(imei), "2001/0");
    });

    it("reports a BLACKLISTED attach to the owning registry as a NETWORK_ATTACH sighting by the operator", async () => {
      const imei = freshImei();
      await fed.registries.get("GB")!.report({ imeis: [imei] });
      const watch = watchForSighting(fed.registries.get("GB")!, "police-gb", (s) => s.deviceKey === imei && s.kind === SightingKind.NETWORK_ATTACH, 5_000);
      await within(1_000, () => status(imei), "2001/1");
      const sighting = await watch.sighting;
      assert.equal(sighting.partnerId, "operator-dz");
      assert.equal(sighting.partnerKind, "operator");
      assert.equal(sighting.seenInCountry, "DZ");
      assert.equal(sighting.purpose, "s13");
    });

    it("with the US registry hung (SIGSTOP), answers within the 500 ms budget: listed abroad still 1, unlisted by the unanswered policy (0); a quick answer overtakes a slow one; past 64 in flight, 3004", async () => {
      const usListed = freshImei();
      await fed.reportUs(usListed);
      await within(1_000, () => status(usListed), "2001/1");
      process.kill(fed.us.pid, "SIGSTOP");
      try {
        const started = Date.now();
        const slow = mme.ask(mme.meIdentityCheck(freshImei())).then((a) => ({ a, at: Date.now() }));
        const quick = mme.ask(mme.meIdentityCheck(STOLEN_GB)).then((a) => ({ a, at: Date.now() }));
        const [s, q] = await Promise.all([slow, quick]);
        assert.equal(equipmentStatusOf(s.a), 0, "unanswered policy: WHITELISTED");
        assert.equal(equipmentStatusOf(q.a), 1);
        assert.ok(s.at - started < 700, `the unanswered check took ${s.at - started} ms (budget 500)`);
        assert.ok(q.at <= s.at, "answers leave as they finish, not in request order");
        // 70 checks of uncached devices wait on the hung registry: the 64 the connection takes, and 3004 for the rest at once.
        const burst = await Promise.all(Array.from({ length: 70 }, () => mme.ask(mme.meIdentityCheck(freshImei()))));
        const codes = burst.map((a) => resultCodeOf(a));
        assert.equal(codes.filter((c) => c === 3004).length, 6);
        assert.equal(codes.filter((c) => c === 2001).length, 64);
      } finally {
        process.kill(fed.us.pid, "SIGCONT");
      }
    });
  });

  describe("the IMSI (User-Name) is never stored, logged, audited or forwarded", () => {
    it("leaves no trace of User-Name in the gateway's logs, its audit log or any registry's audit, while the checks are audited", async () => {
      const sightingImei = freshImei();
      await fed.registries.get("GB")!.report({ imeis: [sightingImei] });
      const watch = watchForSighting(fed.registries.get("GB")!, "police-gb", (s) => s.deviceKey === sightingImei, 5_000);
      for (const imei of [sightingImei, STOLEN_GB, TRACKED_ES, freshImei()]) await mme.ask(mme.meIdentityCheck(imei, { userName: IMSI }));
      const sighting = await watch.sighting;
      assert.ok(!JSON.stringify(sighting, (_k, v: unknown) => (typeof v === "bigint" ? String(v) : v)).includes(IMSI), "the IMSI is in the sighting");
      await sleep(300);
      const logs = fed.gateway.stdout() + fed.gateway.stderr();
      assert.ok(logs.length > 0);
      assert.ok(!logs.includes(IMSI), "the IMSI is in the gateway's logs");
      const audit = await openAuditLog({ sqlite: fed.auditFile }, { readOnly: true });
      try {
        const rows = await audit.query({});
        const s13Rows = rows.filter((r) => r.purpose === "s13");
        assert.ok(s13Rows.length > 0, "ME-Identity-Checks are audited with purpose s13");
        assert.ok(s13Rows.every((r) => r.principal === "operator-dz" || r.principal === "operator-eg"));
        assert.ok(!JSON.stringify(rows).includes(IMSI), "the IMSI is in the gateway's audit rows");
      } finally {
        await audit.close();
      }
      for (const file of [fed.auditFile, `${fed.auditFile}-wal`]) if (existsSync(file)) assert.ok(!readFileSync(file).includes(IMSI), `the IMSI is in ${file}`);
      for (const [country, registry] of fed.registries) {
        const rows = await registry.registry.audit.query({});
        assert.ok(!JSON.stringify(rows).includes(IMSI), `the IMSI is in ${country}'s audit`);
        // Everything a registry stored (records, sightings, audit): its SQLite file and write-ahead log, byte for byte.
        const db = registry.registry.config.db;
        if ("sqlite" in db) for (const file of [db.sqlite, `${db.sqlite}-wal`]) if (existsSync(file)) assert.ok(!readFileSync(file).includes(IMSI), `the IMSI is in ${file}`);
      }
      for (const file of [join(fed.dir, "us.sqlite"), join(fed.dir, "us.sqlite-wal")]) if (existsSync(file)) assert.ok(!readFileSync(file).includes(IMSI), `the IMSI is in ${file}`);
      assert.ok(rowsMention(await fed.registries.get("GB")!.registry.audit.query({}), "operator-dz"), "the registries saw the operator ask");
    });
  });
});

function rowsMention(rows: unknown[], what: string): boolean {
  return JSON.stringify(rows).includes(what);
}

describe("the S13 peer's answers as Wireshark's Diameter dissector reads them", function () {
  this.timeout(60_000);
  let fed: S13Federation;

  before(async function () {
    const missing = wiresharkMissing();
    if (missing) {
      console.warn(`    skipped: ${missing}`);
      this.skip();
    }
    fed = await startS13Federation({ gb: [STOLEN_GB], esTracked: [TRACKED_ES] });
  });
  after(async () => {
    await fed?.stop();
  });

  it("decodes CEA, Equipment-Status 0/1/2, Experimental-Result 5422, 5005 with Failed-AVP, 3001 with the E bit and DWA from the bytes the peer wrote", async () => {
    const mme = await DiameterClient.open(fed.s13Port);
    const eg = await DiameterClient.open(fed.s13Port, MME_EG);
    try {
      const asked = [
        mme.meIdentityCheck(STOLEN_GB, { softwareVersion: "03" }),
        mme.meIdentityCheck(TRACKED_ES),
        mme.meIdentityCheck(freshImei()),
        mme.meIdentityCheck("", { terminal: null }),
        mme.request(999, APPLICATION.s13, [avpOf(AVP.SessionId, "s;3001")]),
        mme.request(COMMAND.deviceWatchdog, 0, []),
      ];
      for (const r of asked) await mme.ask(r);
      await eg.ask(eg.meIdentityCheck(freshImei()));
      const fields = ["diameter.cmd.code", "diameter.hopbyhopid", "diameter.flags.error", "diameter.Result-Code", "diameter.Equipment-Status", "diameter.Experimental-Result-Code", "diameter.Vendor-Id", "diameter.Auth-Application-Id", "diameter.Origin-Host", "diameter.Failed-AVP", "diameter.avp.code", "_ws.malformed", "_ws.expert.severity"];
      // Answers only: a DWR the EIR sends after a second of silence (watchdogMs 1000 here) is not one of them.
      const answers = [...mme.received, ...eg.received].filter((bytes) => (bytes[4]! & 0x80) === 0);
      const rows = dissect(answers, fields);
      if (process.env.S13_DUMP) console.log(rows);
      const [cea, black, grey, white, missing, unknown, dwa] = rows;
      const eg5422 = rows.at(-1)!;
      assert.equal(rows.length, answers.length);
      assert.equal(rows.length, 9, "CEA and 6 answers (the last a DWA) on one connection, CEA and one answer on the other");
      for (const row of rows) {
        assert.equal(row["_ws.malformed"], "", `Wireshark calls a message malformed: ${JSON.stringify(row)}`);
      }
      assert.equal(cea!["diameter.cmd.code"], "257");
      assert.equal(cea!["diameter.Result-Code"], "2001");
      assert.equal(cea!["diameter.Origin-Host"], EIR.originHost);
      assert.match(cea!["diameter.Auth-Application-Id"]!, /16777252/);
      assert.match(cea!["diameter.Vendor-Id"]!, /10415/);
      assert.deepEqual([black!["diameter.Result-Code"], black!["diameter.Equipment-Status"]], ["2001", "1"]);
      assert.equal(Number(black!["diameter.hopbyhopid"]), asked[0]!.hopByHop);
      assert.deepEqual([grey!["diameter.Result-Code"], grey!["diameter.Equipment-Status"]], ["2001", "2"]);
      assert.deepEqual([white!["diameter.Result-Code"], white!["diameter.Equipment-Status"]], ["2001", "0"]);
      assert.equal(missing!["diameter.Result-Code"], "5005");
      assert.match(missing!["diameter.avp.code"]!, /279.*1401/, "Failed-AVP holds Terminal-Information");
      assert.equal(unknown!["diameter.Result-Code"], "3001");
      assert.equal(unknown!["diameter.flags.error"], "1");
      assert.equal(dwa!["diameter.cmd.code"], "280");
      assert.equal(dwa!["diameter.Result-Code"], "2001");
      assert.equal(eg5422["diameter.Experimental-Result-Code"], "5422");
      assert.equal(eg5422["diameter.Equipment-Status"], "");
    } finally {
      mme.close();
      eg.close();
    }
  });
});
