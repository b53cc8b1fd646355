/**
 * The consumer loop against a scripted gateway over a real socket: the script
 * can do what a real gateway never should (send forged attestations, repeat
 * events, vanish mid-stream), which is exactly what the consumer must survive.
 */
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, type MessageInitShape } from "@bufbuild/protobuf";
import { FederationService, StolenEventKind, StolenEventSchema, type StolenEvent } from "../../gen/imeifed/v1/federation_pb.js";
import { Code, ImeifedError } from "../../errors/index.js";
import { createClient, hosted, startHost, type RunningHost, type ServiceImpl } from "../../rpc/index.js";
import { AttestationSigner } from "../../trust/attestation.js";
import { generatePrincipalKeys } from "../../trust/keys.js";
import { ActionFailed, consumeStolenFeed, readCursorFile, registryKeySetFromJson, type ConsumerNotice, type RegistryKeySource } from "../../oem/index.js";
import { STREAM_EXPIRED } from "../../trust/stream-expired.js";

const KEY = "35693803000001";
const unimplemented = async (): Promise<never> => {
  throw new ImeifedError(Code.UNIMPLEMENTED, "UNIMPLEMENTED", "not in this test");
};
// eslint-disable-next-line require-yield
async function* unimplementedStream(): AsyncIterable<never> {
  throw new ImeifedError(Code.UNIMPLEMENTED, "UNIMPLEMENTED", "not in this test");
}

/** A gateway that serves a script of events; event i's cursor is "i" and a cursor "i" resumes at i + 1. */
class ScriptedGateway {
  readonly script: StolenEvent[] = [];
  readonly cursors: string[] = [];
  /** Ends each stream after this many events, as a gateway restart would. */
  cutAfter = Number.POSITIVE_INFINITY;
  /** Ends each stream after this many events as a gateway does when the token it was opened with expires. */
  expireAfter = Number.POSITIVE_INFINITY;
  failWith: ImeifedError | undefined;
  #host: RunningHost | undefined;

  async start(): Promise<void> {
    const impl: ServiceImpl<typeof FederationService> = {
      watchStolen: (request) => this.#serve(request.cursor),
      lookup: unimplemented,
      screen: unimplementedStream,
      reportFound: unimplemented,
      getRegistryKeys: unimplemented,
    };
    this.#host = await startHost({ listen: "127.0.0.1:0", services: [hosted(FederationService, impl)] });
  }

  get address(): string {
    return this.#host!.address;
  }

  async stop(): Promise<void> {
    await this.#host?.shutdown(0);
  }

  async *#serve(cursor: string) {
    this.cursors.push(cursor);
    if (this.failWith) throw this.failWith;
    let sent = 0;
    for (let i = cursor === "" ? 0 : Number(cursor) + 1; i < this.script.length; i++) {
      if (sent >= this.expireAfter) throw new ImeifedError(Code.UNAUTHENTICATED, STREAM_EXPIRED, "the token this stream was opened with expired");
      if (sent++ >= this.cutAfter) throw new ImeifedError(Code.UNAVAILABLE, "SHUTTING_DOWN", "gateway restarting");
      yield { event: this.script[i]! };
    }
  }
}

describe("manufacturer's consumer loop", () => {
  let dir: string;
  let gateway: ScriptedGateway;
  let gb: AttestationSigner;
  let keys: RegistryKeySource;

  before(async () => {
    gb = await AttestationSigner.create({ issuer: "registry-gb", privateJwk: (await generatePrincipalKeys("registry-gb")).privateJwk });
    const set = registryKeySetFromJson({ registries: { GB: gb.publicJwks() } }, "test");
    keys = { current: () => set, refresh: async () => false };
  });
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "imeifed-oem-consumer-"));
    gateway = new ScriptedGateway();
    await gateway.start();
  });
  afterEach(async () => {
    await gateway.stop();
    await rm(dir, { recursive: true, force: true });
  });

  /** Appends an event with a genuine attestation of change `seq`; `tamper` alters it afterwards. */
  async function scriptEvent(seq: number, kind = StolenEventKind.STOLEN_VERIFIED, tamper?: (jws: string) => string, id = `GB:e1:${seq}`) {
    const status = kind === StolenEventKind.CLEARED ? "PERMITTED" : kind === StolenEventKind.TRACKED ? "TRACKED" : "PROHIBITED";
    let attestation = await gb.sign({
      device_key: KEY,
      status,
      reason: "STOLEN",
      verified: true,
      reported_at: new Date().toISOString(),
      registry: "GB",
      change: kind === StolenEventKind.CLEARED ? "CLEARED" : "REPORTED",
      seq,
    });
    if (tamper) attestation = tamper(attestation);
    const init: MessageInitShape<typeof StolenEventSchema> = {
      eventId: id,
      kind,
      country: "GB",
      device: { deviceKey: KEY, imei: "356938030000013", tac: "35693803" },
      attestation,
      cursor: String(gateway.script.length),
    };
    gateway.script.push(create(StolenEventSchema, init));
  }

  function run(options: { maxEvents?: number; act?: (e: StolenEvent) => void; signal?: AbortSignal; backoff?: { initialMs: number; maxMs: number } } = {}) {
    const notices: ConsumerNotice[] = [];
    const acted: string[] = [];
    const client = createClient(FederationService, gateway.address);
    const done = consumeStolenFeed({
      openFeed: (cursor, signal) => client.watchStolen({ cursor }, { signal }),
      keys,
      cursorFile: join(dir, "cursor.json"),
      act: (event) => {
        options.act?.(event);
        acted.push(event.eventId);
      },
      notify: (n) => notices.push(n),
      backoff: options.backoff ?? { initialMs: 20, maxMs: 100 },
      ...(options.maxEvents !== undefined ? { maxEvents: options.maxEvents } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    }).finally(() => client.close());
    return { done, notices, acted };
  }

  it("acts only on events whose attestation verifies, refuses the forged and altered ones, and saves the cursor past all", async () => {
    await scriptEvent(1);
    // Altered: the payload says another device, the signature is the original one.
    await scriptEvent(2, StolenEventKind.STOLEN_VERIFIED, (jws) => {
      const [h, p, s] = jws.split(".");
      const claims = JSON.parse(Buffer.from(p!, "base64url").toString());
      return `${h}.${Buffer.from(JSON.stringify({ ...claims, verified: true, device_key: "35693803000009" })).toString("base64url")}.${s}`;
    });
    // Forged: the gateway signs with a key of its own under the registry's kid.
    const forger = await AttestationSigner.create({ issuer: "registry-gb", privateJwk: { ...(await generatePrincipalKeys("x")).privateJwk, kid: gb.kid } });
    await scriptEvent(3, StolenEventKind.STOLEN_VERIFIED, () => "");
    gateway.script[2]!.attestation = await forger.sign({ device_key: KEY, status: "PROHIBITED", reason: "STOLEN", verified: true, reported_at: new Date().toISOString(), registry: "GB", seq: 3 });
    await scriptEvent(4, StolenEventKind.CLEARED);
    const { done, notices, acted } = run({ maxEvents: 4 });
    const result = await done;
    assert.deepEqual(acted, ["GB:e1:1", "GB:e1:4"]);
    const refused = notices.filter((n): n is Extract<ConsumerNotice, { type: "refused" }> => n.type === "refused");
    assert.deepEqual(refused.map((n) => n.event.eventId), ["GB:e1:2", "GB:e1:3"]);
    for (const n of refused) assert.match(n.problem, /signature does not match/);
    assert.equal(result.cursor, "3");
    assert.deepEqual(await readCursorFile(join(dir, "cursor.json")), { cursor: "3", recentEventIds: ["GB:e1:1", "GB:e1:2", "GB:e1:3", "GB:e1:4"] });
  });

  it("drops a repeated event id, across a restart of the consumer too", async () => {
    await scriptEvent(1);
    await scriptEvent(2);
    await scriptEvent(1); // the same event again (same id)
    const first = run({ maxEvents: 2 });
    await first.done;
    assert.deepEqual(first.acted, ["GB:e1:1", "GB:e1:2"]);
    await scriptEvent(3);
    const stop = new AbortController();
    const second = run({ maxEvents: 1, signal: stop.signal });
    await second.done;
    assert.deepEqual(second.acted, ["GB:e1:3"]);
    assert.deepEqual(second.notices.filter((n) => n.type === "repeat").map((n) => (n as { event: StolenEvent }).event.eventId), ["GB:e1:1"]);
    // The second run resumed from the saved cursor, not from the beginning.
    assert.equal(gateway.cursors.at(-1), "1");
  });

  it("reconnects from its last cursor when the gateway drops the stream, losing nothing", async () => {
    for (let seq = 1; seq <= 5; seq++) await scriptEvent(seq);
    gateway.cutAfter = 2;
    const { done, acted, notices } = run({ maxEvents: 5 });
    await done;
    assert.deepEqual(acted, ["GB:e1:1", "GB:e1:2", "GB:e1:3", "GB:e1:4", "GB:e1:5"]);
    assert.deepEqual(gateway.cursors, ["", "1", "3"]);
    assert.equal(notices.filter((n) => n.type === "disconnected").length, 2);
  });

  it("reopens at once a feed that outlived its token, however often, without counting it as a failed authentication", async () => {
    for (let seq = 1; seq <= 5; seq++) await scriptEvent(seq);
    gateway.expireAfter = 1;
    const started = Date.now();
    // A minute's wait after a failed authentication, and 3 tolerated: neither may apply here.
    const { done, acted, notices } = run({ maxEvents: 5, backoff: { initialMs: 60_000, maxMs: 60_000 } });
    await done;
    assert.deepEqual(acted, ["GB:e1:1", "GB:e1:2", "GB:e1:3", "GB:e1:4", "GB:e1:5"]);
    assert.deepEqual(gateway.cursors, ["", "0", "1", "2", "3"]);
    assert.ok(notices.filter((n) => n.type === "disconnected").every((n) => n.type === "disconnected" && n.retryInMs === 0));
    assert.ok(Date.now() - started < 10_000, "no backoff waited");
  });

  it("stops without moving the cursor when acting fails, so the next run retries that event", async () => {
    await scriptEvent(1);
    await scriptEvent(2);
    const { done } = run({
      act: (event) => {
        if (event.eventId === "GB:e1:2") throw new Error("device management system down");
      },
    });
    await assert.rejects(done, (error: unknown) => error instanceof ActionFailed && /GB:e1:2/.test(error.message));
    assert.equal((await readCursorFile(join(dir, "cursor.json"))).cursor, "0");
    const retry = run({ maxEvents: 1 });
    await retry.done;
    assert.deepEqual(retry.acted, ["GB:e1:2"]);
  });

  it("gives up with the gateway's message when the gateway refuses the principal", async () => {
    gateway.failWith = new ImeifedError(Code.PERMISSION_DENIED, "NOT_A_MANUFACTURER", "WatchStolen is the stolen-mode feed for manufacturers");
    await assert.rejects(run().done, (error: unknown) => error instanceof ImeifedError && error.code === Code.PERMISSION_DENIED && /for manufacturers/.test(error.message));
  });

  it("reloads the keys once when an attestation names a key it does not know (a registry rotated its key)", async () => {
    const rotated = await AttestationSigner.create({ issuer: "registry-gb", privateJwk: (await generatePrincipalKeys("registry-gb")).privateJwk });
    let set = registryKeySetFromJson({ registries: { GB: gb.publicJwks() } }, "test");
    let refreshes = 0;
    keys = {
      current: () => set,
      refresh: async () => {
        refreshes++;
        set = registryKeySetFromJson({ registries: { GB: { keys: [...gb.publicJwks().keys, ...rotated.publicJwks().keys] } } }, "test");
        return true;
      },
    };
    const jws = await rotated.sign({ device_key: KEY, status: "PROHIBITED", reason: "STOLEN", verified: true, reported_at: new Date().toISOString(), registry: "GB", change: "REPORTED", seq: 1 });
    gateway.script.push(create(StolenEventSchema, { eventId: "GB:e1:1", kind: StolenEventKind.STOLEN_VERIFIED, country: "GB", device: { deviceKey: KEY }, attestation: jws, cursor: "0" }));
    const { done, acted } = run({ maxEvents: 1 });
    await done;
    assert.deepEqual(acted, ["GB:e1:1"]);
    assert.equal(refreshes, 1);
  });
});
