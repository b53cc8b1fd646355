import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { Code, ImeifedError } from "../../errors/index.js";
import { Verdict } from "../../gen/imeifed/v1/federation_pb.js";
import { RegistryService } from "../../gen/imeifed/v1/registry_pb.js";
import { CheckStreamPool } from "../../gateway/upstream/check-stream-pool.js";
import { isStreamBroken } from "../../gateway/upstream/check-stream.js";
import { createClient } from "../../rpc/index.js";
import { requireDevice } from "../../device/index.js";
import { createTestTrust, type TestTrust } from "../support/trust-fixture.js";
import { startTestGateway } from "./support/test-gateway.js";
import { startToyRegistry, type ToyRegistry } from "./support/toy-registry.js";

const CUSTOMS_GB = { id: "customs-gb", kind: "customs", country: "GB" } as const;
const POLICE_ES = { id: "police-es", kind: "police", country: "ES" } as const;
const far = () => new Date(Date.now() + 5_000);

describe("gateway CheckDevicesStream (toy registries over sockets)", function () {
  this.timeout(20_000);
  let trust: TestTrust;
  let serial = 200_000;
  const fresh = () => `35693803${String(serial++).padStart(6, "0")}`;
  const freshKey = () => requireDevice(fresh()).key;

  before(async () => {
    trust = await createTestTrust();
  });
  after(async () => trust?.cleanup());

  describe("the stream pool of one registry", () => {
    let gb: ToyRegistry;
    let client: ReturnType<typeof createClient<typeof RegistryService>>;
    const token = (act: typeof CUSTOMS_GB | typeof POLICE_ES, ttlSec = 300) => trust.token("gateway", { audience: "registry-gb", scopes: ["devices:check"], act, ttlSec });

    before(async () => {
      gb = await startToyRegistry({ country: "GB", trust });
      client = createClient(RegistryService, gb.address);
    });
    after(async () => {
      client.close();
      await gb.shutdown();
    });

    it("keeps one stream per requester and carries many batches on it, each answered under its own id", async () => {
      const pool = new CheckStreamPool(() => client);
      try {
        const customsToken = await token(CUSTOMS_GB);
        const stream = pool.streamFor(CUSTOMS_GB, customsToken);
        const devices = Array.from({ length: 20 }, () => freshKey());
        const answers = await Promise.all(devices.map((key) => pool.streamFor(CUSTOMS_GB, customsToken).check([key], "DEC-1", far())));
        assert.equal(pool.streamFor(CUSTOMS_GB, customsToken), stream, "the same stream every time");
        answers.forEach((checks, i) => assert.equal(checks[0]!.deviceKey, devices[i]));
        const asked = gb.calls.slice(-20);
        assert.ok(asked.every((c) => c.via === "stream" && c.actor === "customs-gb" && c.purpose === "DEC-1"));
        assert.notEqual(pool.streamFor(POLICE_ES, await token(POLICE_ES)), stream, "another requester has its own stream");
        assert.equal(pool.size, 2);
      } finally {
        pool.close();
      }
    });

    it("opens a new stream when the requester's token was renewed, and lets the old one finish", async () => {
      const pool = new CheckStreamPool(() => client);
      try {
        const first = pool.streamFor(CUSTOMS_GB, await token(CUSTOMS_GB, 300));
        gb.setDelay(100);
        const inFlight = first.check([freshKey()], "DEC-2", far());
        const second = pool.streamFor(CUSTOMS_GB, await token(CUSTOMS_GB, 301));
        assert.notEqual(second, first);
        assert.equal(first.open, false, "the old stream takes no new batches");
        assert.equal((await inFlight).length, 1, "but answers the one it carried");
        gb.setDelay(0);
        assert.equal((await second.check([freshKey()], "DEC-2", far())).length, 1);
      } finally {
        gb.setDelay(0);
        pool.close();
      }
    });

    it("retires streams unused for idleMs, and the least recently used beyond maxStreams", async () => {
      let now = Date.now();
      const pool = new CheckStreamPool(() => client, { idleMs: 1_000, maxStreams: 1, now: () => now });
      try {
        const customs = pool.streamFor(CUSTOMS_GB, await token(CUSTOMS_GB));
        pool.streamFor(POLICE_ES, await token(POLICE_ES));
        assert.equal(customs.open, false, "evicted: one stream at most");
        assert.equal(pool.size, 1);
        now += 999;
        pool.retireIdle();
        assert.equal(pool.size, 1, "kept while used within idleMs");
        now += 2;
        pool.retireIdle();
        assert.equal(pool.size, 0, "retired after a second unused");
      } finally {
        pool.close();
      }
    });

    it("fails a batch at its deadline with DEADLINE_EXCEEDED, and the stream goes on", async () => {
      const pool = new CheckStreamPool(() => client);
      try {
        const stream = pool.streamFor(CUSTOMS_GB, await token(CUSTOMS_GB));
        gb.setDelay(300);
        await assert.rejects(stream.check([freshKey()], "DEC-3", new Date(Date.now() + 50)), (e: unknown) => e instanceof ImeifedError && e.code === Code.DEADLINE_EXCEEDED);
        gb.setDelay(0);
        assert.equal((await stream.check([freshKey()], "DEC-3", far())).length, 1);
        assert.equal(stream.open, true);
      } finally {
        gb.setDelay(0);
        pool.close();
      }
    });

    it("fails the batches waiting on a stream that broke as stream-broken (the link retries those by call)", async () => {
      const other = await startToyRegistry({ country: "GB", trust });
      const otherClient = createClient(RegistryService, other.address);
      const pool = new CheckStreamPool(() => otherClient);
      try {
        other.hang(true);
        const waiting = pool.streamFor(CUSTOMS_GB, await token(CUSTOMS_GB)).check([freshKey()], "DEC-4", far());
        await sleep(50);
        await other.shutdown();
        await assert.rejects(waiting, (e: unknown) => isStreamBroken(e));
      } finally {
        pool.close();
        otherClient.close();
      }
    });
  });

  it("asks a registry without CheckDevicesStream by CheckDevices calls, and the lookup answers as before", async () => {
    const old = await startToyRegistry({ country: "GB", trust, streams: false });
    const current = await startToyRegistry({ country: "ES", trust });
    const gw = await startTestGateway({ trust, registries: [{ country: "GB", address: old.address }, { country: "ES", address: current.address }] });
    try {
      const imei = fresh();
      old.list(imei);
      const first = await gw.client("police-es").lookup({ imei, purpose: "ES-9" });
      assert.equal(Verdict[first.verdict], "PROHIBITED");
      await gw.client("police-es").lookup({ imei: fresh(), purpose: "ES-9" });
      assert.deepEqual(old.calls.map((c) => c.via), ["call", "call"], "the stream was tried once, then calls");
      assert.deepEqual(current.calls.map((c) => c.via), ["stream", "stream"]);
    } finally {
      await gw.shutdown();
      await old.shutdown();
      await current.shutdown();
    }
  });
});
