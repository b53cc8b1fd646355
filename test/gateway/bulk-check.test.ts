/**
 * The bulk path (`FederationChecker.checkBulkAnswers`, what screening
 * calls): real toy registries on sockets, a real gateway, real
 * tokens; the checker is called directly so each answer can be inspected.
 */
import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { luhnCheckDigit, type DeviceKey } from "../../device/index.js";
import { Code, ImeifedError } from "../../errors/index.js";
import { DeviceStatus } from "../../gen/imeifed/v1/device_pb.js";
import { UnansweredReason } from "../../gen/imeifed/v1/federation_pb.js";
import type { BulkAnswers, CheckOptions } from "../../gateway/federation/federation-checker.js";
import type { FlushEvent } from "../../gateway/upstream/registry-batcher.js";
import type { Actor } from "../../trust/principal.js";
import { createTestTrust, type TestTrust } from "../support/trust-fixture.js";
import { startTestGateway, type TestGateway } from "./support/test-gateway.js";
import { startToyRegistry, type ToyRegistry } from "./support/toy-registry.js";

const COUNTRIES = ["GB", "ES", "JP"];
/** ES answers in full, as a registry from before sparse answers; GB and JP answer sparsely. */
const FULL_ANSWERING = "ES";
/** The gateway's upstream batch limit for every registry in these tests. */
const LIMIT = 5;
const customs: Actor = { id: "customs-gb", kind: "customs", country: "GB" };

describe("gateway bulk check (screening's path): no per-device promises, answers cached compactly", function () {
  this.timeout(20_000);
  let trust: TestTrust;
  const registries = new Map<string, ToyRegistry>();
  let gw: TestGateway;
  const flushes: { country: string; event: FlushEvent }[] = [];
  let serial = 500_000;
  /** A fresh 15-digit IMEI no other test touched. */
  const fresh = () => {
    const body = `35693803${String(serial++).padStart(6, "0")}`;
    return body + String(luhnCheckDigit(body));
  };
  const keyOf = (imei: string) => imei.slice(0, 14) as DeviceKey;
  const reg = (c: string) => registries.get(c)!;
  const checker = () => gw.gateway.context.checker;
  /** The bulk path's answers, read by position as screening reads them. */
  const screened = async (keys: DeviceKey[], opts: CheckOptions) => {
    const answers: BulkAnswers = await checker().checkBulkAnswers(keys, opts);
    return keys.map((key, i) => ({ key, findings: answers.findingsAt(i), unanswered: answers.unansweredAt(i), fromCache: answers.fromCacheAt(i) }));
  };
  const bulk = (keys: DeviceKey[], deadlineMs = 3_000) => screened(keys, { deadline: new Date(Date.now() + deadlineMs), requester: customs, purpose: "DEC-BULK-1" });
  const countriesOf = (a: Awaited<ReturnType<typeof bulk>>[number]) => a.findings.map((f) => `${f.finding!.country}:${DeviceStatus[f.finding!.status]}`).sort();

  before(async () => {
    trust = await createTestTrust();
    for (const country of COUNTRIES) registries.set(country, await startToyRegistry({ country, trust, sparse: country !== FULL_ANSWERING }));
    gw = await startTestGateway({
      trust,
      registries: COUNTRIES.map((country) => ({ country, address: reg(country).address, batchLimit: LIMIT })),
      config: { deadlines: { upstreamMaxMs: 1_000, marginMs: 25 }, breaker: { failureThreshold: 100, coolDownMs: 300 } },
      onFlush: (country, event) => flushes.push({ country, event }),
    });
  });

  after(async () => {
    await gw?.shutdown();
    for (const r of registries.values()) await r.shutdown().catch(() => undefined);
    await trust?.cleanup();
  });

  beforeEach(() => {
    flushes.length = 0;
    for (const r of registries.values()) {
      r.calls.length = 0;
      r.fail(undefined);
      r.hang(false);
      r.failCall(undefined);
    }
  });

  it("answers each device with the findings of the registries that list it, in order", async () => {
    const imeis = Array.from({ length: 23 }, fresh);
    reg("GB").list(imeis[3]!);
    reg("ES").list(imeis[3]!, DeviceStatus.TRACKED);
    reg("JP").list(imeis[17]!, DeviceStatus.TRACKED);
    await gw.gateway.ready(2_000);
    const answers = await bulk(imeis.map(keyOf));
    assert.equal(answers.length, 23);
    answers.forEach((a, i) => {
      assert.equal(a.key, keyOf(imeis[i]!), `answer ${i} is for its own key`);
      assert.deepEqual(a.unanswered, []);
      assert.equal(a.fromCache, false);
      const want = i === 3 ? ["ES:TRACKED", "GB:PROHIBITED"] : i === 17 ? ["JP:TRACKED"] : [];
      assert.deepEqual(countriesOf(a), want, `findings of device ${i}`);
    });
    for (const c of COUNTRIES) assert.deepEqual(reg(c).askedKeys().sort(), imeis.map(keyOf).sort(), `${c} was asked about every device once`);
  });

  it("asks every registry for sparse answers, and reads a sparse and a full answer alike (an all-listed call included)", async () => {
    const imeis = Array.from({ length: LIMIT * 2 + 1 }, fresh);
    // The first call's devices are all listed in GB and ES; the second's only at its end; the third's not at all.
    for (const imei of imeis.slice(0, LIMIT)) {
      reg("GB").list(imei);
      reg("ES").list(imei, DeviceStatus.TRACKED);
    }
    reg("JP").list(imeis[LIMIT * 2 - 1]!);
    await gw.gateway.ready(2_000);
    const answers = await bulk(imeis.map(keyOf));
    answers.forEach((a, i) => {
      const expected = i < LIMIT ? ["ES:TRACKED", "GB:PROHIBITED"] : i === LIMIT * 2 - 1 ? ["JP:PROHIBITED"] : [];
      assert.deepEqual(countriesOf(a), expected, `device ${i}`);
      assert.deepEqual(a.unanswered, []);
    });
    for (const c of COUNTRIES) assert.ok(reg(c).calls.length > 0 && reg(c).calls.every((call) => call.listedOnly), `${c} was asked for sparse answers`);
    // Both shapes filled the clean table: a second pass is answered from the cache alone.
    for (const r of registries.values()) r.calls.length = 0;
    const again = await bulk(imeis.map(keyOf));
    assert.ok(again.every((a) => a.fromCache), "answered from the cache");
    assert.deepEqual(again.map(countriesOf), answers.map(countriesOf));
    for (const c of COUNTRIES) assert.equal(reg(c).calls.length, 0, `${c} was not asked again`);
  });

  it("sends calls no larger than the gateway's limit for the registry, as bulk flushes", async () => {
    const imeis = Array.from({ length: 23 }, fresh);
    await bulk(imeis.map(keyOf));
    for (const c of COUNTRIES) {
      const sizes = reg(c).calls.map((call) => call.keys.length);
      assert.ok(sizes.every((n) => n <= LIMIT), `${c} batch sizes ${sizes.join(",")}`);
      assert.equal(sizes.reduce((n, s) => n + s, 0), 23);
      assert.equal(sizes.length, Math.ceil(23 / LIMIT));
      assert.ok(reg(c).calls.every((call) => call.method === "CheckDevices" && call.purpose === "DEC-BULK-1" && call.actor === customs.id));
    }
    assert.ok(flushes.length > 0 && flushes.every((f) => f.event.reason === "bulk" && f.event.size <= LIMIT));
  });

  it("caches listed findings in the LRU and clean answers in the clean table: a second pass asks no registry", async () => {
    const imeis = Array.from({ length: 12 }, fresh);
    const listed = reg("GB").list(imeis[5]!);
    await gw.gateway.ready(2_000);
    const sizeBefore = checker().cache.size;
    await bulk(imeis.map(keyOf));
    assert.equal(checker().cache.size - sizeBefore, 1, "only the listed device entered the LRU");
    assert.equal(checker().cache.get(listed as DeviceKey, "GB", customs.id)?.status, DeviceStatus.PROHIBITED);
    assert.equal(checker().cache.get(keyOf(imeis[0]!), "GB", customs.id)?.status, DeviceStatus.PERMITTED, "the clean answer is in the clean table");

    for (const r of registries.values()) r.calls.length = 0;
    const again = await bulk(imeis.map(keyOf));
    assert.deepEqual(countriesOf(again[5]!), ["GB:PROHIBITED"], "served from the cache");
    assert.ok(again.every((a) => a.fromCache && a.unanswered.length === 0), "every answer of every registry came from the cache");
    for (const c of COUNTRIES) assert.equal(reg(c).calls.length, 0, `${c} was not asked again`);
  });

  it("a device reported in its registry reads PROHIBITED within 1 second even with a clean entry", async () => {
    const [imei] = [fresh()];
    await gw.gateway.ready(2_000);
    assert.deepEqual(countriesOf((await bulk([keyOf(imei)]))[0]!), []);
    assert.equal((await bulk([keyOf(imei)]))[0]!.fromCache, true, "the clean answers are held");
    reg("ES").list(imei);
    const started = Date.now();
    let last: string[] = [];
    while (Date.now() - started <= 1_000) {
      last = countriesOf((await bulk([keyOf(imei)]))[0]!);
      if (last.length > 0) break;
      await sleep(20);
    }
    assert.deepEqual(last, ["ES:PROHIBITED"], `within 1 s of the report (after ${Date.now() - started} ms)`);
  });

  it("is not served to a requester the registry refuses, though another requester's clean answers are held", async () => {
    const police: Actor = { id: "police-es", kind: "police", country: "ES" };
    const imeis = Array.from({ length: 4 }, fresh);
    await gw.gateway.ready(2_000);
    await bulk(imeis.map(keyOf));
    reg("JP").refuse(police.id);
    const asPolice = () => screened(imeis.map(keyOf), { deadline: new Date(Date.now() + 3_000), requester: police, purpose: "case 9" });
    for (const answer of await asPolice()) {
      assert.deepEqual(answer.unanswered.map((u) => [u.country, UnansweredReason[u.reason]]), [["JP", "REFUSED"]], "JP refuses, as it would without the table");
    }
    assert.equal(reg("GB").calls.filter((c) => c.actor === police.id).length, 1, "GB was asked once, for police-es itself");
    reg("GB").calls.length = 0;
    const again = await asPolice();
    assert.equal(reg("GB").calls.length, 0, "GB's clean answers now serve police-es, whom GB answered");
    assert.ok(again.every((a) => a.unanswered.length === 1), "JP still refuses: never served from the table");
  });

  it("a registry's new epoch drops its clean entries (only its own)", async () => {
    const imeis = Array.from({ length: 6 }, fresh);
    await gw.gateway.ready(2_000);
    await bulk(imeis.map(keyOf));
    const follower = gw.gateway.followers.get("GB")!;
    const epoch = follower.position.epoch;
    reg("GB").newEpoch();
    for (let i = 0; i < 100 && follower.position.epoch === epoch; i++) await sleep(20);
    assert.ok(await gw.gateway.ready(2_000), "GB's follower caught up under the new epoch");
    for (const r of registries.values()) r.calls.length = 0;
    await bulk(imeis.map(keyOf));
    assert.deepEqual(reg("GB").askedKeys().sort(), imeis.map(keyOf).sort(), "GB is asked again about every device");
    assert.equal(reg("ES").calls.length, 0, "ES's clean entries still serve");
    assert.equal(reg("JP").calls.length, 0);
  });

  it("a clean answer replaces what the per-device path cached for the device, and adds no LRU entry of its own", async () => {
    const [held, other] = [fresh(), fresh()];
    // The per-device path (Lookup) caches clean answers briefly; the bulk path refreshes such an entry.
    await checker().check(keyOf(held), { deadline: new Date(Date.now() + 3_000), requester: customs, purpose: "lookup" });
    const before = checker().cache.get(keyOf(held), "ES", customs.id);
    assert.ok(before, "the per-device path cached a clean answer");
    checker().cache.dropDevice(keyOf(held), "ES", DeviceStatus.PERMITTED);
    const sizeBefore = checker().cache.size;
    await bulk([keyOf(held), keyOf(other)]);
    assert.equal(checker().cache.size, sizeBefore, "no new entry for the other clean device");
    assert.equal(checker().cache.get(keyOf(held), "ES", customs.id)?.status, DeviceStatus.PERMITTED, "the held entry got ES's answer again");
  });

  it("a failing registry marks only its own answers unanswered; the others' findings still arrive", async () => {
    const imeis = Array.from({ length: 11 }, fresh);
    reg("GB").list(imeis[2]!);
    await gw.gateway.ready(2_000);
    reg("JP").fail(new ImeifedError(Code.UNAVAILABLE, "UNAVAILABLE", "registry JP is down"));
    const answers = await bulk(imeis.map(keyOf));
    answers.forEach((a, i) => {
      assert.deepEqual(a.unanswered.map((u) => [u.country, UnansweredReason[u.reason]]), [["JP", "UNAVAILABLE"]], `device ${i}`);
      assert.deepEqual(countriesOf(a), i === 2 ? ["GB:PROHIBITED"] : []);
    });
  });

  it("a registry failing one call marks only that call's devices unanswered", async () => {
    const imeis = Array.from({ length: 3 * LIMIT }, fresh);
    // ES fails its second call only: the toy's calls arrive in order on one channel.
    const es = reg("ES");
    es.failCall((_, n) => (n === 1 ? new ImeifedError(Code.INTERNAL, "INTERNAL", "ES broke") : undefined));
    const answers = await bulk(imeis.map(keyOf));
    const unansweredAt = answers.flatMap((a, i) => (a.unanswered.length > 0 ? [i] : []));
    const second = new Set(es.calls[1]!.keys);
    assert.equal(unansweredAt.length, LIMIT, "one call's worth of devices");
    assert.ok(unansweredAt.every((i) => second.has(keyOf(imeis[i]!)) && answers[i]!.unanswered[0]!.country === "ES"));
  });

  it("a hanging registry is unanswered at the deadline, for its devices only", async () => {
    const imeis = Array.from({ length: 7 }, fresh);
    reg("ES").hang(true);
    const started = Date.now();
    const answers = await bulk(imeis.map(keyOf), 400);
    assert.ok(Date.now() - started < 1_500, "returned by the caller's deadline");
    for (const a of answers) assert.deepEqual(a.unanswered.map((u) => [u.country, UnansweredReason[u.reason]]), [["ES", "DEADLINE"]]);
  });

  it("an empty list asks nobody", async () => {
    assert.deepEqual(await bulk([]), []);
    for (const c of COUNTRIES) assert.equal(reg(c).calls.length, 0);
  });

  it("serves a listed device's cached finding as stale when its registry is down (last: it stops GB)", async () => {
    const imei = fresh();
    reg("GB").list(imei);
    await gw.gateway.ready(2_000);
    await bulk([keyOf(imei)]);
    await reg("GB").shutdown();
    const follower = gw.gateway.followers.get("GB")!;
    for (let i = 0; i < 100 && follower.live; i++) await sleep(20);
    assert.equal(follower.live, false, "the gateway noticed GB's change stream ended");
    const [answer] = await bulk([keyOf(imei)]);
    assert.deepEqual(answer!.unanswered.map((u) => [u.country, UnansweredReason[u.reason]]), [["GB", "UNAVAILABLE"]]);
    assert.deepEqual(countriesOf(answer!), ["GB:PROHIBITED"]);
    assert.equal(answer!.findings[0]!.stale, true);
  });
});
