/**
 * End to end: five real registries (four in this process, GB as a child
 * process that the test kills with SIGKILL and starts again) and a real
 * gateway, over sockets, with real tokens.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { durationMs } from "@bufbuild/protobuf/wkt";
import { requireDevice } from "../../device/index.js";
import { ClearReason, DeviceStatus } from "../../gen/imeifed/v1/device_pb.js";
import { UnansweredReason, Verdict, type LookupResponse } from "../../gen/imeifed/v1/federation_pb.js";
import { RegistryService } from "../../gen/imeifed/v1/registry_pb.js";
import { createClient, type Client } from "../../rpc/index.js";
import { batchDigest } from "../../trust/audit/index.js";
import type { FlushEvent } from "../../gateway/upstream/registry-batcher.js";
import { reportRequest, spawnRegistryProcess, startTestRegistry, type RegistryProcess, type TestRegistry } from "../support/registry-fixture.js";
import { createTestTrust, type TestTrust } from "../support/trust-fixture.js";
import { checkCounter, type ServedCheck } from "./support/check-counter.js";
import { startTestGateway, type TestGateway } from "./support/test-gateway.js";
import { within } from "../support/waiting.js";

const IN_PROCESS = ["ES", "JP", "BR", "US"];
const BATCH_LIMIT = 8;
const verdict = (r: LookupResponse) => Verdict[r.verdict];
const unanswered = (r: LookupResponse) => r.unanswered.map((u) => u.country).sort();


describe("gateway end to end: five real registries and a gateway", function () {
  this.timeout(60_000);
  let trust: TestTrust;
  const registries = new Map<string, TestRegistry>();
  const served = new Map<string, ServedCheck[]>();
  let gbDir: string;
  let gb: RegistryProcess;
  let gbPolice: Client<typeof RegistryService>;
  let gw: TestGateway;
  const flushes: { country: string; event: FlushEvent }[] = [];
  let serial = 300_000;
  /** A device no other test touched (14-digit body of a valid TAC). */
  const fresh = () => `35693803${String(serial++).padStart(6, "0")}`;
  const police = (country: string) => registries.get(country)!;
  const report = (country: string, imei: string, status = DeviceStatus.PROHIBITED) =>
    country === "GB" ? gbPolice.reportDevice(reportRequest({ imeis: [imei], status })) : police(country).report({ imeis: [imei], status });

  before(async () => {
    trust = await createTestTrust();
    for (const country of IN_PROCESS) {
      const counter = checkCounter();
      served.set(country, counter.served);
      registries.set(country, await startTestRegistry({ country, trust, interceptors: [counter.interceptor], config: { batchLimit: BATCH_LIMIT } }));
    }
    gbDir = mkdtempSync(join(tmpdir(), "imeifed-gw-gb-"));
    gb = await spawnRegistryProcess({ country: "GB", trust, db: { sqlite: join(gbDir, "gb.sqlite") } });
    gbPolice = createClient(RegistryService, gb.address, { metadata: trust.metadataFor("police-gb", "registry-gb") });
    gw = await startTestGateway({
      trust,
      registries: [
        { country: "GB", address: gb.address },
        ...IN_PROCESS.map((country) => ({ country, address: police(country).registry.address, batchLimit: BATCH_LIMIT })),
      ],
      config: { deadlines: { upstreamMaxMs: 1_000, marginMs: 25 }, breaker: { failureThreshold: 3, coolDownMs: 300 } },
      onFlush: (country, event) => flushes.push({ country, event }),
    });
    assert.ok(await gw.gateway.ready(5_000), "the gateway follows all five change streams");
  });

  after(async () => {
    await gw?.shutdown();
    gbPolice?.close();
    await gb?.kill();
    for (const r of registries.values()) await r.cleanup();
    if (gbDir) rmSync(gbDir, { recursive: true, force: true });
    await trust?.cleanup();
  });

  it("applies the verdict rules across the five registries", async () => {
    const c = gw.client("police-es");
    const stolen = fresh();
    await report("GB", stolen);
    const r = await c.lookup({ imei: stolen, purpose: "case ES-100" });
    assert.equal(verdict(r), "PROHIBITED");
    assert.deepEqual(r.findings.map((f) => [f.finding?.country, DeviceStatus[f.finding!.status], f.finding?.verified, f.stale]), [["GB", "PROHIBITED", true, false]]);
    assert.ok(r.findings[0]!.finding!.attestation.split(".").length === 3, "the registry's attestation is passed through");

    const tracked = fresh();
    await report("BR", tracked, DeviceStatus.TRACKED);
    assert.equal(verdict(await c.lookup({ imei: tracked, purpose: "case ES-101" })), "TRACKED");

    const both = fresh();
    await report("BR", both, DeviceStatus.TRACKED);
    await report("JP", both);
    const r2 = await c.lookup({ imei: both, purpose: "case ES-102" });
    assert.equal(verdict(r2), "PROHIBITED");
    assert.deepEqual(r2.findings.map((f) => f.finding?.country).sort(), ["BR", "JP"]);

    const clean = await c.lookup({ imei: fresh(), purpose: "case ES-103" });
    assert.equal(verdict(clean), "PERMITTED");
    assert.deepEqual(clean.unanswered, []);
  });

  it("asks under the gateway's identity for the real requester, whose sharing policy applies", async () => {
    const stolen = fresh();
    await report("US", stolen);
    const before = served.get("US")!.length;
    const r = await gw.client("customs-gb").lookup({ imei: stolen, countries: ["US"], purpose: "declaration DEC-1" });
    assert.equal(verdict(r), "PROHIBITED");
    assert.deepEqual(served.get("US")!.slice(before).map((s) => [s.actor, s.purpose]), [["customs-gb", "declaration DEC-1"]]);
    const finding = r.findings[0]!.finding!;
    assert.equal(finding.reportingAgency, "", "customs do not see the reporting agency");
    assert.ok(finding.withheldFields.includes("reporting_agency"));
    const asPolice = await gw.client("police-jp").lookup({ imei: stolen, countries: ["US"], purpose: "case JP-9" });
    assert.equal(asPolice.findings[0]!.finding!.reportingAgency, "police-us", "police see it: the cache never hands one requester's view to another");
  });

  it("coalesces many concurrent lookups of one device into one upstream call per registry", async () => {
    const imei = fresh();
    const key = requireDevice(imei).key;
    const before = new Map(IN_PROCESS.map((c) => [c, served.get(c)!.length]));
    const c = gw.client("police-br");
    const answers = await Promise.all(Array.from({ length: 50 }, () => c.lookup({ imei, purpose: "case BR-7" })));
    assert.ok(answers.every((a) => verdict(a) === "PERMITTED"));
    for (const country of IN_PROCESS) {
      const calls = served.get(country)!.slice(before.get(country));
      assert.deepEqual(
        calls.map((s) => [s.method, s.batchSize, s.batchDigest]),
        [["CheckDevicesStream", 1, batchDigest([key])]],
        `${country} served one call for the device`,
      );
    }
  });

  it("a device cleared in its registry stops reading PROHIBITED within 1 second", async () => {
    const imei = fresh();
    await report("ES", imei);
    const c = gw.client("police-gb");
    const read = async () => verdict(await c.lookup({ imei, purpose: "case GB-20" }));
    assert.equal(await read(), "PROHIBITED");
    assert.equal((await c.lookup({ imei, purpose: "case GB-20" })).fromCache, true, "the PROHIBITED answer is served from the cache");
    await police("ES").client("police-es").clearDevice({ imei, reason: ClearReason.RECOVERED });
    const took = await within(1_000, read, "PERMITTED");
    assert.ok(took <= 1_000);
  });

  it("a newly reported device reads PROHIBITED within 1 second even with a clean answer cached", async () => {
    const imei = fresh();
    const c = gw.client("police-us");
    const read = async () => verdict(await c.lookup({ imei, purpose: "case US-20" }));
    assert.equal(await read(), "PERMITTED");
    assert.equal((await c.lookup({ imei, purpose: "case US-20" })).fromCache, true, "the clean answer is served from the cache");
    await report("JP", imei);
    await within(1_000, read, "PROHIBITED");
  });

  it("gathers concurrent misses into batches within the registry's limit, each caller getting its own answer", async () => {
    const devices = Array.from({ length: 64 }, () => fresh());
    const listed = new Set(devices.filter((_, i) => i % 5 === 0));
    for (const imei of listed) await report("US", imei);
    const before = served.get("US")!.length;
    const flushedBefore = flushes.length;
    const c = gw.client("police-gb");
    const answers = await Promise.all(devices.map((imei) => c.lookup({ imei, purpose: "case GB-30" })));
    answers.forEach((a, i) => {
      assert.equal(a.device?.deviceKey, requireDevice(devices[i]!).key);
      assert.equal(verdict(a), listed.has(devices[i]!) ? "PROHIBITED" : "PERMITTED", `device ${i}`);
    });
    const calls = served.get("US")!.slice(before);
    assert.equal(calls.reduce((n, s) => n + s.batchSize, 0), 64, "every device was asked once");
    assert.ok(calls.length < 64, `gathered into ${calls.length} calls`);
    assert.ok(calls.every((s) => s.batchSize <= BATCH_LIMIT), `batch sizes ${calls.map((s) => s.batchSize).join(",")}`);
    assert.ok(flushes.slice(flushedBefore).filter(({ country }) => country !== "GB").every(({ event }) => event.size <= BATCH_LIMIT), "the gateway never sent more than the limit");
  });

  it("adds no wait for a lone lookup: every registry's call is sent at once (idle), not on a window", async () => {
    await sleep(50);
    const flushedBefore = flushes.length;
    await gw.client("police-jp").lookup({ imei: fresh(), purpose: "case JP-40" });
    const mine = flushes.slice(flushedBefore);
    assert.deepEqual(mine.map(({ country }) => country).sort(), ["BR", "ES", "GB", "JP", "US"]);
    assert.ok(mine.every(({ event }) => event.reason === "idle" && event.size === 1), JSON.stringify(mine));
  });

  it("keeps answering when a registry is killed (stale hits marked, the country unanswered) and uses it again once it is back", async () => {
    const stolen = fresh();
    await report("GB", stolen);
    const c = gw.client("police-es");
    assert.equal(verdict(await c.lookup({ imei: stolen, purpose: "case ES-50" })), "PROHIBITED");
    await within(1_000, async () => String((await c.lookup({ imei: stolen, purpose: "case ES-50" })).fromCache), "true");
    const address = gb.address;
    await gb.kill();

    for (let i = 0; i < 6; i++) {
      // Resolving proves it answered within its deadline (the client fails a late call with DEADLINE_EXCEEDED).
      const r = await c.lookup({ imei: stolen, purpose: "case ES-50" }, { deadline: 500 });
      assert.equal(verdict(r), "PROHIBITED", "the cached theft report still prohibits");
      assert.deepEqual(unanswered(r), ["GB"]);
      assert.ok([UnansweredReason.UNAVAILABLE, UnansweredReason.CIRCUIT_OPEN, UnansweredReason.DEADLINE].includes(r.unanswered[0]!.reason));
      const gbFinding = r.findings.find((f) => f.finding?.country === "GB")!;
      assert.equal(gbFinding.stale, true);
      assert.ok(gbFinding.age && durationMs(gbFinding.age) > 0);
    }
    const clean = await c.lookup({ imei: fresh(), purpose: "case ES-51" }, { deadline: 500 });
    assert.equal(verdict(clean), "UNKNOWN", "no registry lists it, but GB did not answer");
    assert.equal(
      UnansweredReason[(await c.lookup({ imei: fresh(), purpose: "case ES-52" }, { deadline: 500 })).unanswered[0]!.reason],
      "CIRCUIT_OPEN",
      "after repeated failures the circuit is open",
    );

    gb = await spawnRegistryProcess({ country: "GB", trust, db: { sqlite: join(gbDir, "gb.sqlite") }, listen: address });
    const took = await within(
      5_000,
      async () => {
        const r = await c.lookup({ imei: stolen, purpose: "case ES-53" }, { deadline: 500 });
        return r.unanswered.length === 0 && r.findings.some((f) => f.finding?.country === "GB" && !f.stale) ? "back" : "down";
      },
      "back",
    );
    assert.ok(took < 5_000, `GB used again after ${took} ms, without restarting the gateway`);
    assert.ok(await gw.gateway.ready(5_000), "the GB change stream resumed");
  });
});
