/**
 * Stolen mode end to end: real registries (in-process and as child
 * processes), a real gateway, real tokens, over sockets; the manufacturer side
 * is the oem/ library and the `imeifed oem watch` command.
 *
 * "Nothing arrives" is never asserted by waiting: a later marker event that
 * must arrive is sent instead, and everything before it in the same registry
 * has then been handled.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { JSONWebKeySet } from "jose";
import { ClearReason } from "../../gen/imeifed/v1/device_pb.js";
import { StolenEventKind, type StolenEvent } from "../../gen/imeifed/v1/federation_pb.js";
import { RegistryService } from "../../gen/imeifed/v1/registry_pb.js";
import { Code, ImeifedError } from "../../errors/index.js";
import { createClient, type Client } from "../../rpc/index.js";
import { decodeFeedCursor } from "../../gateway/stolen-feed/feed-cursor.js";
import { checkEventAttestation, consumeStolenFeed, readCursorFile, registryKeySetFromJson, type ConsumerNotice, type RegistryKeySource } from "../../oem/index.js";
import { createTestTrust, DEFAULT_TEST_PRINCIPALS, type TestTrust } from "../support/trust-fixture.js";
import { reportRequest, spawnRegistryProcess, startTestRegistry, type TestRegistry } from "../support/registry-fixture.js";
import { startTestGateway, type TestGateway } from "../gateway/support/test-gateway.js";

const PRINCIPALS = [
  ...DEFAULT_TEST_PRINCIPALS,
  // A second manufacturer, to prove each sees only its own devices.
  { id: "oem-other", kind: "manufacturer" as const, country: "KR", tacPrefixes: ["35111111"] },
];

let serial = 0;
/** A fresh device key of the demo manufacturer (TAC 35693803), or of another TAC. */
const device = (tac = "35693803") => `${tac.padEnd(8, "0")}${String(++serial).padStart(6, "0")}`;

/**
 * A WatchStolen call collecting its events in the background, returned once the feed has sent its opening cursor:
 * a feed with no cursor starts at the registries' heads, so what a test reports after this reaches it.
 */
async function watch(gw: TestGateway, principal: string, cursor = "") {
  const stop = new AbortController();
  const events: StolenEvent[] = [];
  let failure: unknown;
  let opening: string | undefined;
  const done = (async () => {
    try {
      for await (const response of gw.client(principal).watchStolen({ cursor }, { signal: stop.signal })) {
        if (response.event) events.push(response.event);
        else opening ??= response.cursor;
      }
    } catch (error) {
      failure = error;
    }
  })();
  await waitUntil("the feed sends its opening cursor", () => opening !== undefined || failure !== undefined);
  return {
    /** The cursor the feed opened with (where it starts in each registry). */
    opening: opening ?? "",
    events,
    failure: () => failure,
    /** Waits for the first event (after `from`) about `deviceKey`. */
    async eventFor(deviceKey: string, from = 0, ms = 5_000): Promise<StolenEvent> {
      const until = Date.now() + ms;
      for (;;) {
        const found = events.slice(from).find((e) => e.device?.deviceKey === deviceKey);
        if (found) return found;
        if (failure) throw failure;
        if (Date.now() > until) assert.fail(`no event for ${deviceKey} within ${ms} ms; got ${events.map((e) => `${e.eventId}/${e.device?.deviceKey}`).join(", ")}`);
        await sleep(5);
      }
    },
    async close() {
      stop.abort();
      await done;
    },
  };
}

async function waitUntil(what: string, condition: () => boolean, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > until) assert.fail(`timed out waiting until ${what}`);
    await sleep(10);
  }
}

describe("WatchStolen end to end (real registries, gateway and tokens)", function () {
  this.timeout(30_000);
  let trust: TestTrust;
  let gb: TestRegistry;
  let es: TestRegistry;
  let gw: TestGateway;

  before(async () => {
    trust = await createTestTrust(PRINCIPALS);
    // GB hides make and model from manufacturers only: seeing them withheld proves GB applied its policy to the
    // manufacturer named in the gateway's act claim, not to the gateway (which falls under the default).
    const sharing = {
      rules: [
        { kind: "police" as const, withhold: [] },
        { kind: "manufacturer" as const, withhold: ["reporting_agency" as const, "case_token" as const, "make" as const, "model" as const] },
      ],
    };
    gb = await startTestRegistry({ country: "GB", trust, config: { sharing } });
    es = await startTestRegistry({ country: "ES", trust });
    gw = await startTestGateway({ trust, registries: [{ country: "GB", address: gb.registry.address }, { country: "ES", address: es.registry.address }] });
  });
  after(async () => {
    await gw?.shutdown();
    await gb?.cleanup();
    await es?.cleanup();
    await trust?.cleanup();
  });

  it("sends a verified report to the manufacturer that makes that TAC and to no other, with an attestation that verifies offline", async () => {
    const demo = await watch(gw, "oem-demo");
    const other = await watch(gw, "oem-other");
    try {
      const stolen = device();
      await gb.report({ imeis: [stolen], make: "Acme", model: "A1" });
      const event = await demo.eventFor(stolen);
      assert.equal(event.kind, StolenEventKind.STOLEN_VERIFIED);
      assert.equal(event.country, "GB");
      assert.match(event.eventId, /^GB:[^:]+:\d+$/);
      assert.equal(event.device?.imei.slice(0, 14), stolen);
      // The manufacturer's offline check with the registry's own published keys.
      const check = await checkEventAttestation(event, registryKeySetFromJson({ registries: { GB: gb.registry.jwks } }, "GB keys"));
      assert.ok(check.ok, check.ok ? "" : check.problem);
      assert.equal(check.claims.iss, "registry-gb");
      // The registry's sharing policy was applied to the manufacturer (the act claim), and the attestation still came untouched.
      assert.equal(event.finding?.reportingAgency, "");
      assert.equal(event.finding?.make, "");
      assert.deepEqual([...(event.finding?.withheldFields ?? [])].sort(), ["case_token", "make", "model", "reporting_agency"]);
      // oem-other's marker, reported after: once it arrives, oem-other has passed the theft above without being told.
      const marker = device("35111111");
      await gb.report({ imeis: [marker] });
      await other.eventFor(marker);
      assert.deepEqual(other.events.map((e) => e.device?.deviceKey), [marker]);
    } finally {
      await demo.close();
      await other.close();
    }
  });

  it("never sends an unverified report, nor its clearing", async () => {
    const feed = await watch(gw, "oem-demo");
    try {
      const unverified = device();
      await es.report({ imeis: [unverified], crimeReference: "" });
      await es.client("police-es").clearDevice({ imei: unverified, reason: ClearReason.REPORTED_IN_ERROR });
      const marker = device("86");
      await es.report({ imeis: [marker] });
      await feed.eventFor(marker);
      assert.equal(feed.events.filter((e) => e.device?.deviceKey === unverified).length, 0);
    } finally {
      await feed.close();
    }
  });

  it("sends CLEARED within a second of the clearing, and TRACKED for recovery mode", async () => {
    const feed = await watch(gw, "oem-demo");
    try {
      const phone = device();
      await gb.report({ imeis: [phone] });
      await feed.eventFor(phone);
      const from = feed.events.length;
      const clearedAt = Date.now();
      await gb.client("police-gb").clearDevice({ imei: phone, reason: ClearReason.RECOVERED });
      const cleared = await feed.eventFor(phone, from, 1_000);
      assert.ok(Date.now() - clearedAt < 1_000, `CLEARED took ${Date.now() - clearedAt} ms`);
      assert.equal(cleared.kind, StolenEventKind.CLEARED);
      assert.ok((await checkEventAttestation(cleared, registryKeySetFromJson({ registries: { GB: gb.registry.jwks } }, "GB keys"))).ok);
      const tracked = device("86");
      const { DeviceStatus } = await import("../../gen/imeifed/v1/device_pb.js");
      await es.report({ imeis: [tracked], status: DeviceStatus.TRACKED });
      assert.equal((await feed.eventFor(tracked)).kind, StolenEventKind.TRACKED);
    } finally {
      await feed.close();
    }
  });

  it("resumes from an event's cursor with exactly the later events", async () => {
    const first = await watch(gw, "oem-demo");
    const a = device();
    await gb.report({ imeis: [a] });
    const eventA = await first.eventFor(a);
    await first.close();
    const b = device();
    await gb.report({ imeis: [b] });
    const resumed = await watch(gw, "oem-demo", eventA.cursor);
    try {
      const eventB = await resumed.eventFor(b);
      assert.equal(resumed.events[0]!.eventId, eventB.eventId, "the first event after the cursor is B, not A nor anything before");
      assert.deepEqual([...decodeFeedCursor(eventB.cursor).keys()].sort(), ["ES", "GB"]);
    } finally {
      await resumed.close();
    }
  });

  it("refuses callers that are not manufacturers, tokens without devices:watch, and cursors it did not issue", async () => {
    const expect = async (client: Client<typeof import("../../gen/imeifed/v1/federation_pb.js").FederationService>, cursor: string, code: Code, message: RegExp) => {
      await assert.rejects(
        (async () => {
          for await (const _ of client.watchStolen({ cursor }, { deadline: 5_000 })) void _;
        })(),
        (error: unknown) => {
          assert.ok(error instanceof ImeifedError);
          assert.equal(Code[error.code], Code[code]);
          assert.match(error.message, message);
          return true;
        },
      );
    };
    await expect(gw.client("police-gb"), "", Code.PERMISSION_DENIED, /manufacturer/);
    const { FederationService } = await import("../../gen/imeifed/v1/federation_pb.js");
    const narrow = createClient(FederationService, gw.gateway.address, { metadata: trust.metadataFor("oem-demo", "gateway", ["devices:check"]) });
    try {
      await expect(narrow, "", Code.PERMISSION_DENIED, /devices:watch/);
    } finally {
      narrow.close();
    }
    await expect(gw.client("oem-demo"), "not-a-cursor!", Code.INVALID_ARGUMENT, /^cursor: /);
  });
});

describe("stolen feed through restarts, refusals and tampering (nothing lost, nothing forged)", function () {
  this.timeout(60_000);
  let trust: TestTrust;
  let dir: string;

  before(async () => {
    trust = await createTestTrust(PRINCIPALS);
  });
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "imeifed-stolen-restart-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  after(async () => {
    await trust?.cleanup();
  });

  /** The oem/ consumer, running in the background against `address`, acting by recording device keys. */
  function consumer(
    address: () => string,
    keys: () => JSONWebKeySet,
    openFeed?: (cursor: string, signal: AbortSignal, client: Client<typeof import("../../gen/imeifed/v1/federation_pb.js").FederationService>, replay: boolean) => AsyncIterable<never>,
  ) {
    const stop = new AbortController();
    const acted: string[] = [];
    const notices: ConsumerNotice[] = [];
    const source: RegistryKeySource = { current: () => registryKeySetFromJson(keys(), "keys"), refresh: async () => false };
    const done = (async () => {
      const { FederationService } = await import("../../gen/imeifed/v1/federation_pb.js");
      let client: Client<typeof FederationService> | undefined;
      try {
        return await consumeStolenFeed({
          openFeed: (cursor, signal, replay) => {
            // A fresh client per connection: the gateway may come back at the same address after a restart.
            client?.close();
            client = createClient(FederationService, address(), { metadata: trust.metadataFor("oem-demo", "gateway", ["devices:watch"]) });
            return openFeed ? openFeed(cursor, signal, client, replay) : client.watchStolen({ cursor, replay }, { signal });
          },
          keys: source,
          cursorFile: join(dir, "oem.cursor.json"),
          act: (event) => void acted.push(`${StolenEventKind[event.kind]}:${event.device?.deviceKey}`),
          notify: (n) => notices.push(n),
          signal: stop.signal,
          backoff: { initialMs: 50, maxMs: 300 },
        });
      } finally {
        client?.close();
      }
    })();
    return {
      acted,
      notices,
      async stop() {
        stop.abort();
        return done;
      },
    };
  }

  it("resumes after a gateway restart, delivering what was reported while the gateway was down", async () => {
    const gb = await startTestRegistry({ country: "GB", trust });
    let gw = await startTestGateway({ trust, registries: [{ country: "GB", address: gb.registry.address }] });
    const port = gw.gateway.port;
    const oem = consumer(() => gw.gateway.address, () => ({ registries: { GB: gb.registry.jwks } }) as never);
    try {
      const before = device();
      await gb.report({ imeis: [before] });
      await waitUntil("the first theft is acted on", () => oem.acted.includes(`STOLEN_VERIFIED:${before}`));
      await gw.shutdown();
      const whileDown = [device(), device()];
      for (const key of whileDown) await gb.report({ imeis: [key] });
      await gb.client("police-gb").clearDevice({ imei: before, reason: ClearReason.RETURNED });
      // A new gateway process on the same address: it holds nothing; the consumer's cursor is all the state.
      gw = await startTestGateway({ trust, registries: [{ country: "GB", address: gb.registry.address }], config: { listen: `127.0.0.1:${port}` } });
      await waitUntil("everything reported while the gateway was down is acted on", () => oem.acted.length === 4);
      assert.deepEqual(oem.acted, [`STOLEN_VERIFIED:${before}`, ...whileDown.map((k) => `STOLEN_VERIFIED:${k}`), `CLEARED:${before}`]);
      assert.ok(oem.notices.some((n) => n.type === "disconnected"));
    } finally {
      await oem.stop();
      await gw.shutdown();
      await gb.cleanup();
    }
  });

  it("resumes after a registry process is killed and restarted, while the other registry keeps flowing", async () => {
    const db = { sqlite: join(dir, "gb.sqlite") };
    let gbProcess = await spawnRegistryProcess({ country: "GB", trust, db });
    const es = await startTestRegistry({ country: "ES", trust });
    const gw = await startTestGateway({ trust, registries: [{ country: "GB", address: gbProcess.address }, { country: "ES", address: es.registry.address }] });
    const gbKeys = async (): Promise<JSONWebKeySet> => JSON.parse((await police.getKeys({})).jwksJson) as JSONWebKeySet;
    let police: Client<typeof RegistryService> = createClient(RegistryService, gbProcess.address, { metadata: trust.metadataFor("police-gb", "registry-gb") });
    const keys = { registries: { GB: await gbKeys(), ES: es.registry.jwks } };
    const oem = consumer(() => gw.gateway.address, () => keys as never);
    try {
      const first = device();
      await police.reportDevice(reportRequest({ imeis: [first] }));
      await waitUntil("the GB theft is acted on", () => oem.acted.includes(`STOLEN_VERIFIED:${first}`));
      // Acknowledged, then the registry dies at once (SIGKILL): the change must still reach the manufacturer.
      const lastWords = device();
      await police.reportDevice(reportRequest({ imeis: [lastWords] }));
      await gbProcess.kill();
      // GB is down; ES's events keep flowing.
      const spanish = device("86");
      await es.report({ imeis: [spanish] });
      await waitUntil("the ES theft is acted on while GB is down", () => oem.acted.includes(`STOLEN_VERIFIED:${spanish}`));
      // GB comes back on the same address from the same database.
      police.close();
      gbProcess = await spawnRegistryProcess({ country: "GB", trust, db, listen: gbProcess.address });
      police = createClient(RegistryService, gbProcess.address, { metadata: trust.metadataFor("police-gb", "registry-gb") });
      const afterRestart = device();
      await police.reportDevice(reportRequest({ imeis: [afterRestart] }));
      await waitUntil("the GB theft after the restart is acted on", () => oem.acted.includes(`STOLEN_VERIFIED:${afterRestart}`), 15_000);
      assert.ok(oem.acted.includes(`STOLEN_VERIFIED:${lastWords}`), "the change acknowledged just before the kill was delivered");
      const gbActed = oem.acted.filter((a) => a.includes(first) || a.includes(lastWords) || a.includes(afterRestart));
      assert.deepEqual(gbActed, [`STOLEN_VERIFIED:${first}`, `STOLEN_VERIFIED:${lastWords}`, `STOLEN_VERIFIED:${afterRestart}`], "each once, in order");
      assert.equal(oem.notices.filter((n) => n.type === "refused").length, 0);
    } finally {
      await oem.stop();
      police.close();
      await gw.shutdown();
      await gbProcess.kill();
      await es.cleanup();
    }
  });

  it("replays a registry whose database was replaced (new epoch) from its first change", async () => {
    const gb1 = await startTestRegistry({ country: "GB", trust });
    const port = gb1.registry.port;
    const gw = await startTestGateway({ trust, registries: [{ country: "GB", address: gb1.registry.address }] });
    let gb2: TestRegistry | undefined;
    let jwks = gb1.registry.jwks;
    const oem = consumer(() => gw.gateway.address, () => ({ registries: { GB: jwks } }) as never);
    try {
      const old = device();
      await gb1.report({ imeis: [old] });
      await waitUntil("the theft in the old database is acted on", () => oem.acted.length === 1);
      await gb1.cleanup();
      gb2 = await startTestRegistry({ country: "GB", trust, config: { listen: `127.0.0.1:${port}` } });
      jwks = { keys: [...gb1.registry.jwks.keys, ...gb2.registry.jwks.keys] };
      const fresh = device();
      await gb2.report({ imeis: [fresh] });
      await waitUntil("the theft in the new database is acted on", () => oem.acted.includes(`STOLEN_VERIFIED:${fresh}`), 15_000);
      // The cursor is saved right after acting: wait for it, then it names the new epoch.
      let epoch: string | undefined;
      await waitUntil("the cursor names the new epoch", () => {
        void readCursorFile(join(dir, "oem.cursor.json")).then((s) => (epoch = decodeFeedCursor(s.cursor).get("GB")?.epoch), () => {});
        return epoch === gb2!.registry.store.epoch;
      });
    } finally {
      await oem.stop();
      await gw.shutdown();
      await gb2?.cleanup();
    }
  });

  it("keeps flowing when a registry's sharing policy refuses manufacturers (that registry's events never reach them)", async () => {
    const gb = await startTestRegistry({ country: "GB", trust });
    const es = await startTestRegistry({ country: "ES", trust, config: { sharing: { rules: [{ kind: "manufacturer", share: "none" }] } } });
    const gw = await startTestGateway({ trust, registries: [{ country: "ES", address: es.registry.address }, { country: "GB", address: gb.registry.address }] });
    const feed = await watch(gw, "oem-demo");
    try {
      const spanish = device();
      await es.report({ imeis: [spanish] });
      const british = device();
      await gb.report({ imeis: [british] });
      await feed.eventFor(british);
      assert.deepEqual(feed.events.map((e) => e.country), ["GB"]);
      // The refusing registry keeps the position the feed opened with: the manufacturer gets every later event if the policy changes.
      assert.deepEqual(decodeFeedCursor(feed.events[0]!.cursor).get("ES"), decodeFeedCursor(feed.opening).get("ES"));
    } finally {
      await feed.close();
      await gw.shutdown();
      await gb.cleanup();
      await es.cleanup();
    }
  });

  it("refuses events whose attestation a compromised gateway altered or forged, and acts on none of them", async () => {
    const gb = await startTestRegistry({ country: "GB", trust });
    const gw = await startTestGateway({ trust, registries: [{ country: "GB", address: gb.registry.address }] });
    // Between the real gateway and the consumer: turn the first event's unverified... every event's attestation into a tampered one.
    const tamper = (jws: string, n: number) => {
      const [h, p, s] = jws.split(".");
      if (n % 2 === 0) {
        const claims = JSON.parse(Buffer.from(p!, "base64url").toString()) as Record<string, unknown>;
        return `${h}.${Buffer.from(JSON.stringify({ ...claims, device_key: "35693803999999" })).toString("base64url")}.${s}`;
      }
      return `${h}.${p}.${Buffer.from("forged signature bytes, 64 of them, to look like a real ES256 sig").toString("base64url")}`;
    };
    let n = 0;
    const oem = consumer(
      () => gw.gateway.address,
      () => ({ registries: { GB: gb.registry.jwks } }) as never,
      (cursor, signal, client, replay) =>
        (async function* () {
          for await (const response of client.watchStolen({ cursor, replay }, { signal })) {
            if (response.event) response.event.attestation = tamper(response.event.attestation, n++);
            yield response as never;
          }
        })(),
    );
    try {
      const a = device();
      const b = device();
      await gb.report({ imeis: [a] });
      await gb.report({ imeis: [b] });
      await waitUntil("both events are handled", () => oem.notices.filter((x) => x.type === "refused").length === 2);
      assert.deepEqual(oem.acted, []);
      const problems = oem.notices.flatMap((x) => (x.type === "refused" ? [x.problem] : []));
      for (const problem of problems) assert.match(problem, /signature does not match/);
      // Refused events are not acted on, but the cursor moved past them (saved just after each refusal).
      let saved = 0;
      await waitUntil("both refused events are saved in the cursor file", () => {
        void readCursorFile(join(dir, "oem.cursor.json")).then((s) => (saved = s.recentEventIds.length), () => {});
        return saved === 2;
      });
    } finally {
      await oem.stop();
      await gw.shutdown();
      await gb.cleanup();
    }
  });
});

describe("imeifed oem watch (child process)", function () {
  this.timeout(60_000);
  const CLI = resolve(import.meta.dirname, "../../cli/bin.js");

  function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((done) => {
      const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
      child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
      const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
      child.once("exit", (code) => {
        clearTimeout(timer);
        done({ code, stdout, stderr });
      });
    });
  }

  it("prints verified events as JSON, keeps its cursor in the file, and resumes from it on the next run (keys from a file, then from the gateway)", async () => {
    const trust = await createTestTrust(PRINCIPALS);
    const dir = await mkdtemp(join(tmpdir(), "imeifed-oem-cli-"));
    const gb = await startTestRegistry({ country: "GB", trust });
    const gw = await startTestGateway({ trust, registries: [{ country: "GB", address: gb.registry.address }] });
    try {
      const token = join(dir, "oem.token");
      await writeFile(token, await trust.token("oem-demo", { audience: "gateway", scopes: ["devices:watch"] }));
      const jwks = join(dir, "registries.jwks.json");
      await writeFile(jwks, JSON.stringify({ registries: { GB: gb.registry.jwks } }));
      const cursorFile = join(dir, "oem.cursor.json");
      const base = ["oem", "watch", "--gateway", gw.gateway.address, "--token", token, "--jwks", jwks, "--cursor-file", cursorFile, "--json"];
      const [a, b, c] = [device(), device(), device()];
      await gb.report({ imeis: [a] });
      await gb.report({ imeis: [b] });
      const first = await runCli([...base, "--max-events", "2"]);
      assert.equal(first.code, 0, first.stderr);
      const lines = first.stdout.trim().split("\n").map((l) => JSON.parse(l) as { result: string; kind: string; deviceKey: string; attestedBy: string });
      assert.deepEqual(lines.map((l) => [l.result, l.kind, l.deviceKey, l.attestedBy]), [
        ["ACTED", "STOLEN_VERIFIED", a, "registry-gb"],
        ["ACTED", "STOLEN_VERIFIED", b, "registry-gb"],
      ]);
      const saved = JSON.parse(await readFile(cursorFile, "utf8")) as { cursor: string };
      assert.ok(saved.cursor.length > 0);
      await gb.report({ imeis: [c] });
      // The second run fetches the registries' keys from the gateway (no --jwks).
      const second = await runCli([...base.filter((x) => x !== "--json" && x !== "--jwks" && x !== jwks), "--max-events", "1"]);
      assert.equal(second.code, 0, second.stderr);
      assert.match(second.stdout, new RegExp(`^STOLEN_VERIFIED +GB +35693803\\*+${c.slice(-2)} `));
      assert.ok(!second.stdout.includes(c), "human output masks the device");
      assert.match(second.stderr, /from the saved cursor/);
    } finally {
      await gw.shutdown();
      await gb.cleanup();
      await rm(dir, { recursive: true, force: true });
      await trust.cleanup();
    }
  });

  it("prints REFUSED for an event whose attestation does not verify with the given keys", async () => {
    const trust = await createTestTrust(PRINCIPALS);
    const dir = await mkdtemp(join(tmpdir(), "imeifed-oem-cli-"));
    const gb = await startTestRegistry({ country: "GB", trust });
    const es = await startTestRegistry({ country: "ES", trust });
    const gw = await startTestGateway({ trust, registries: [{ country: "GB", address: gb.registry.address }] });
    try {
      const token = join(dir, "oem.token");
      await writeFile(token, await trust.token("oem-demo", { audience: "gateway", scopes: ["devices:watch"] }));
      // The wrong keys for GB (ES's): every GB event must be refused.
      const jwks = join(dir, "wrong.jwks.json");
      await writeFile(jwks, JSON.stringify({ registries: { GB: es.registry.jwks } }));
      const stolen = device();
      await gb.report({ imeis: [stolen] });
      const run = await runCli(["oem", "watch", "--gateway", gw.gateway.address, "--token", token, "--jwks", jwks, "--cursor-file", join(dir, "c.json"), "--max-events", "1"]);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /^REFUSED +GB:\S+ +GB +35693803\*+\d\d +attestation rejected: no key with kid/);
    } finally {
      await gw.shutdown();
      await gb.cleanup();
      await es.cleanup();
      await rm(dir, { recursive: true, force: true });
      await trust.cleanup();
    }
  });
});
