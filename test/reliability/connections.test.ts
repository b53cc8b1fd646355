/**
 * The connection level of the gateway and of a registry, each a real child
 * process run with small connection limits from its config file: silent
 * sockets, idle connections, connections the HTTP/2 layer has given up on and
 * connections past the caps are closed, live ones keep answering, and the
 * process's open descriptors (read from /proc) come back to where they were.
 * Each scenario comes from loopback addresses of its own, so every scenario
 * is a different client machine to the server.
 */
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { ConnectionLimits } from "../../rpc/index.js";
import { spawnGatewayProcess } from "../support/gateway-process.js";
import { spawnRegistryProcess, startTestRegistry, type TestRegistry } from "../support/registry-fixture.js";
import type { ServerProcess } from "../support/server-process.js";
import { createTestTrust, type TestTrust } from "../support/trust-fixture.js";
import { waitFor } from "../support/waiting.js";
import {
  dataOnConnectionStream,
  descriptorsBackTo,
  dropSession,
  healthCheck,
  healthWatch,
  http2Session,
  oversizedHeaderBlock,
  rawConnection,
  settledDescriptors,
} from "../support/raw-http2.js";

/** Small enough to watch each limit act within a test, in this order: preface, keepalive, idle. */
const LIMITS: ConnectionLimits = { maxTotal: 32, maxPerAddress: 8, prefaceTimeoutMs: 400, keepaliveMs: 300, keepaliveTimeoutMs: 300, idleTimeoutMs: 1_000 };
/** How long any closing may take before the test calls it a leak: many times each limit. */
const CLOSE_LIMIT_MS = 5_000;
/** HTTP/2's error codes as GOAWAY carries them (RFC 9113 §7). */
const NO_ERROR = 0;
const PROTOCOL_ERROR = 1;
const COMPRESSION_ERROR = 9;

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe("connections of the gateway and a registry (real processes)", function () {
  this.timeout(60_000);
  let trust: TestTrust;
  let dir: string;
  let upstream: TestRegistry;
  const subjects = new Map<string, ServerProcess>();

  before(async () => {
    trust = await createTestTrust();
    dir = mkdtempSync(join(tmpdir(), "imeifed-connections-"));
    const registryConfig = join(dir, "gb.json");
    writeFileSync(registryConfig, JSON.stringify({ country: "GB", db: { sqlite: join(dir, "gb.sqlite") }, trustFile: trust.trustFile, connections: LIMITS }));
    // The gateway's own registry runs in this process with the default limits: only the subjects' connections are counted.
    upstream = await startTestRegistry({ country: "ES", trust });
    const [registry, gateway] = await Promise.all([
      spawnRegistryProcess({ country: "GB", trust, db: { sqlite: join(dir, "gb.sqlite") }, args: ["--config", registryConfig] }),
      spawnGatewayProcess({ trust, registries: [{ country: "ES", address: upstream.registry.address }], config: { connections: LIMITS } }),
    ]);
    subjects.set("registry", registry);
    subjects.set("gateway", gateway);
  });

  after(async () => {
    for (const subject of subjects.values()) await subject.kill();
    await upstream?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
    await trust?.cleanup();
  });

  let addresses = 10;
  /** A loopback address no scenario used before: a client machine of its own. */
  const freshAddress = () => `127.0.0.${addresses++}`;

  for (const name of ["registry", "gateway"]) {
    describe(`the ${name}`, () => {
      let subject: ServerProcess;
      let port: number;
      let baseline: number;
      const descriptors = () => subject.openDescriptors();

      beforeEach(async () => {
        subject = subjects.get(name)!;
        port = Number(subject.address.split(":").pop());
        baseline = await settledDescriptors(descriptors);
      });

      it("closes connections that send no preface after the preface deadline", async () => {
        const address = freshAddress();
        const silent = await Promise.all(range(LIMITS.maxPerAddress).map(() => rawConnection(port, address)));
        const closedAfter = await Promise.all(silent.map((c) => c.closed(CLOSE_LIMIT_MS)));
        for (const [i, afterMs] of closedAfter.entries()) {
          assert.ok(afterMs >= LIMITS.prefaceTimeoutMs - 5, `silent connection ${i} closed after ${afterMs} ms, before the deadline`);
          assert.ok(silent[i]!.bytesReceived > 0, "it was admitted (the server sent its SETTINGS), not refused");
        }
        await descriptorsBackTo(descriptors, baseline);
      });

      it("closes connections whose header block is over the server's limit, and connections that break the protocol", async () => {
        const attackers = range(3).map(() => freshAddress());
        const oversized = await Promise.all(
          attackers.flatMap((address) => range(LIMITS.maxPerAddress).map(() => rawConnection(port, address, oversizedHeaderBlock(70_000)))),
        );
        const malformed = await rawConnection(port, freshAddress(), dataOnConnectionStream());
        await Promise.all([...oversized, malformed].map((c) => c.closed(CLOSE_LIMIT_MS)));
        for (const c of oversized) assert.deepEqual(c.goaways, [COMPRESSION_ERROR], "the server gave up on the header block");
        assert.deepEqual(malformed.goaways, [PROTOCOL_ERROR]);
        await descriptorsBackTo(descriptors, baseline);
      });

      it("closes idle connections after the idle time, while a connection with calls keeps answering", async () => {
        const started = Date.now();
        const [idle, busy] = await Promise.all([http2Session(port, freshAddress()), http2Session(port, freshAddress())]);
        const watch = await healthWatch(busy);
        const idleClosed = new Promise<number>((resolve) => idle.once("close", () => resolve(Date.now() - started)));
        const afterMs = await Promise.race([idleClosed, sleep(CLOSE_LIMIT_MS).then(() => assert.fail("the idle connection is still open"))]);
        assert.ok(afterMs >= LIMITS.idleTimeoutMs - 5, `closed after ${afterMs} ms, before the idle time`);
        assert.ok(idle.goawayCodes.length > 0 && idle.goawayCodes.every((code) => code === NO_ERROR), `closed gracefully, with GOAWAY (codes ${idle.goawayCodes.join(",")})`);
        // Twice the idle time with a call open, answering more calls all along (and the server's pings).
        while (Date.now() - started < 2 * LIMITS.idleTimeoutMs + 200) {
          assert.equal(await healthCheck(busy), "0");
          await sleep(100);
        }
        assert.deepEqual([busy.closed, busy.destroyed, busy.goawayCodes], [false, false, []]);
        watch.close();
        dropSession(busy);
        await descriptorsBackTo(descriptors, baseline);
      });

      it("refuses a connection over the per-address cap at once, while the address's open connections and other addresses go on", async () => {
        const crowded = freshAddress();
        const held = await Promise.all(range(LIMITS.maxPerAddress).map(() => http2Session(port, crowded)));
        // An open call each, so that none of them goes idle during the test.
        await Promise.all(held.map(healthWatch));
        const refused = await rawConnection(port, crowded);
        await refused.closed(CLOSE_LIMIT_MS);
        assert.equal(refused.bytesReceived, 0, "reset before the server said anything (not left to the preface deadline)");
        assert.equal(await healthCheck(held[0]!), "0", "the address's open connections keep answering");
        const neighbour = await http2Session(port, freshAddress());
        assert.equal(await healthCheck(neighbour), "0", "another address is admitted");
        // A closed connection frees its place (once the server has seen it close).
        dropSession(held.pop()!);
        const again = await waitFor("a place for the crowded address again", () => http2Session(port, crowded).catch(() => undefined), { intervalMs: 50 });
        assert.equal(await healthCheck(again), "0");
        for (const session of [...held, neighbour, again]) dropSession(session);
        await descriptorsBackTo(descriptors, baseline);
      });

      it("refuses a connection over the total cap at once, from any address", async () => {
        const everyone = range(LIMITS.maxTotal / LIMITS.maxPerAddress).map(() => freshAddress());
        const held = await Promise.all(everyone.flatMap((address) => range(LIMITS.maxPerAddress).map(() => http2Session(port, address))));
        await Promise.all(held.map(healthWatch));
        const refused = await rawConnection(port, freshAddress());
        await refused.closed(CLOSE_LIMIT_MS);
        assert.equal(refused.bytesReceived, 0, "reset before the server said anything");
        assert.equal(await healthCheck(held[0]!), "0");
        for (const session of held) dropSession(session);
        await descriptorsBackTo(descriptors, baseline);
      });
    });
  }
});
