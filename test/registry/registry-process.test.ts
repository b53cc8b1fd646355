import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Client as GrpcClient, credentials, Metadata } from "@grpc/grpc-js";
import { DeviceStatus } from "../../gen/imeifed/v1/device_pb.js";
import { RegistryService, type WatchChangesResponse } from "../../gen/imeifed/v1/registry_pb.js";
import { Code, ImeifedError } from "../../errors/index.js";
import { createClient, type Client } from "../../rpc/index.js";
import { createTestTrust, type TestTrust } from "../support/trust-fixture.js";
import { reportRequest, spawnRegistryProcess, TEST_POSTGRES_URL, testPostgresSchema, type RegistryProcess, type RegistryProcessOptions } from "../support/registry-fixture.js";
import { readStream } from "./stream-reader.js";
import { testDevice } from "./test-imeis.js";

/**
 * The registry as operators run it: `imeifed registry serve` in a child
 * process, killed with SIGKILL, stopped with SIGTERM, and two of them sharing
 * one PostgreSQL database.
 */
describe("imeifed registry serve (child processes)", function () {
  this.timeout(60_000);
  let trust: TestTrust;
  let dir: string;
  const processes: RegistryProcess[] = [];
  const clients: Client<typeof RegistryService>[] = [];
  const cleanups: Array<() => Promise<void>> = [];

  before(async () => {
    trust = await createTestTrust();
  });
  after(async () => trust.cleanup());
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "imeifed-registry-process-"));
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.close();
    for (const p of processes.splice(0)) await p.kill();
    for (const cleanup of cleanups.splice(0)) await cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  async function spawn(options: Omit<RegistryProcessOptions, "trust" | "country">): Promise<RegistryProcess> {
    const p = await spawnRegistryProcess({ country: "GB", trust, ...options });
    processes.push(p);
    return p;
  }
  function client(p: RegistryProcess, principal: string): Client<typeof RegistryService> {
    const c = createClient(RegistryService, p.address, { metadata: trust.metadataFor(principal, "registry-gb") });
    clients.push(c);
    return c;
  }
  function postgres(): { postgres: string; schema: string } {
    const { schema, drop } = testPostgresSchema();
    cleanups.push(drop);
    return { postgres: TEST_POSTGRES_URL, schema };
  }

  for (const kind of ["sqlite", "postgres"] as const) {
    it(`keeps every acknowledged report through kill -9 (${kind})`, async () => {
      const db = kind === "sqlite" ? { sqlite: join(dir, "gb.sqlite") } : postgres();
      const first = await spawn({ db });
      const police = client(first, "police-gb");
      const devices = Array.from({ length: 25 }, (_, i) => testDevice(500 + i));
      for (const device of devices) await police.reportDevice(reportRequest({ imeis: [device.imei] }));
      // SIGKILL right after the last acknowledgement: no shutdown, no checkpoint, no flush.
      await first.kill();
      assert.equal((await first.exited).signal, "SIGKILL");

      const second = await spawn({ db });
      assert.equal(second.epoch, first.epoch);
      const { checks } = await client(second, "police-es").checkDevices({ imeis: devices.map((d) => d.imei), purpose: "CASE-1" });
      assert.deepEqual(new Set(checks.map((c) => c.status)), new Set([DeviceStatus.PROHIBITED]));
      const stream = readStream(client(second, "gateway").watchChanges({ afterSequence: 24n }));
      const last = await stream.next();
      assert.equal(last.event.case, "change");
      assert.equal(last.event.value?.sequence, 25n);
      assert.equal((await stream.next()).event.case, "caughtUp");
    });
  }

  it("carries a report written through one process to the WatchChanges of another sharing its PostgreSQL database", async () => {
    const db = postgres();
    const one = await spawn({ db });
    const two = await spawn({ db });
    assert.equal(two.epoch, one.epoch);
    const abort = new AbortController();
    try {
      const watchTwo = readStream(client(two, "gateway").watchChanges({ afterSequence: 0n }, { signal: abort.signal }));
      const watchOne = readStream(client(one, "gateway").watchChanges({ afterSequence: 0n }, { signal: abort.signal }));
      assert.equal((await watchTwo.next()).event.case, "caughtUp");
      assert.equal((await watchOne.next()).event.case, "caughtUp");
      const A = testDevice(601);
      const B = testDevice(602);
      await client(one, "police-gb").reportDevice(reportRequest({ imeis: [A.imei] }));
      await client(two, "police-gb").reportDevice(reportRequest({ imeis: [B.imei] }));
      const seen = async (stream: ReturnType<typeof readStream<WatchChangesResponse>>) => {
        const got: Array<[bigint, string]> = [];
        for (let i = 0; i < 2; i++) {
          const m = await stream.next(1_000);
          if (m.event.case === "change") got.push([m.event.value.sequence, m.event.value.deviceKey]);
        }
        return got;
      };
      // Both processes stream both changes, with the same sequence numbers.
      const expected = [
        [1n, A.key],
        [2n, B.key],
      ];
      assert.deepEqual(await seen(watchTwo), expected);
      assert.deepEqual(await seen(watchOne), expected);
      const { check } = await client(one, "police-es").checkDevice({ imei: B.imei, purpose: "CASE-1" });
      assert.equal(check?.status, DeviceStatus.PROHIBITED);
    } finally {
      abort.abort();
    }
  });

  it("serves health, and on SIGTERM ends open streams with UNAVAILABLE and exits 0", async () => {
    const p = await spawn({ db: { sqlite: join(dir, "gb.sqlite") } });
    const health = new GrpcClient(p.address, credentials.createInsecure());
    try {
      const status = await new Promise<Buffer>((resolve, reject) =>
        health.makeUnaryRequest("/grpc.health.v1.Health/Check", (b: Buffer) => b, (b: Buffer) => b, Buffer.alloc(0), new Metadata(), (e, r) => (e ? reject(e) : resolve(r!))),
      );
      assert.deepEqual([...status], [0x08, 0x01], "SERVING");
    } finally {
      health.close();
    }
    const stream = readStream(client(p, "gateway").watchChanges({ afterSequence: 0n }));
    assert.equal((await stream.next()).event.case, "caughtUp");
    const code = await p.stop();
    assert.equal(code, 0, p.stderr());
    const ended = await stream.end();
    assert.ok(ended instanceof ImeifedError, String(ended));
    assert.equal(ended.code, Code.UNAVAILABLE);
    assert.match(ended.message, /shutting down; reconnect/);
    assert.match(p.stdout(), /"msg":"registry stopped","signal":"SIGTERM"/);
    // The store was closed cleanly: a new process opens it with the same epoch.
    const again = await spawn({ db: { sqlite: join(dir, "gb.sqlite") } });
    assert.equal(again.epoch, p.epoch);
  });

  it("reads a config file, with flags beside it taking precedence", async () => {
    const file = join(dir, "gb.yaml");
    writeFileSync(file, "country: GB\ndb: { sqlite: ignored.sqlite }\nbatchLimit: 3\ncacheMaxAgeSec: 0\nlisten: 127.0.0.1:1\n");
    const p = await spawn({ db: { sqlite: join(dir, "gb.sqlite") }, args: ["--config", file] });
    const gateway = client(p, "gateway");
    const four = [1, 2, 3, 4].map((i) => testDevice(650 + i).imei);
    await assert.rejects(gateway.checkDevices({ imeis: four, purpose: "CASE-1" }), (e: unknown) => e instanceof ImeifedError && e.code === Code.INVALID_ARGUMENT && /at most 3/.test(e.message));
    const { checks } = await gateway.checkDevices({ imeis: four.slice(0, 3), purpose: "CASE-1" });
    assert.deepEqual(checks.map((c) => c.cacheMaxAge?.seconds), [0n, 0n, 0n]);
    assert.ok(existsSync(join(dir, "gb.sqlite")), "--db overrides the file's db");
    assert.ok(!existsSync(join(dir, "ignored.sqlite")));
  });

  it("refuses to start on bad flags with a usage message (exit 64)", async () => {
    await assert.rejects(
      spawnRegistryProcess({ country: "GB", trust, db: { sqlite: join(dir, "gb.sqlite") }, args: ["--batch-limit", "lots"] }),
      /exited \(code 64.*--batch-limit: "lots" is not a whole number/s,
    );
  });
});
