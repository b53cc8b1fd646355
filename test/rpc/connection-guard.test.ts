import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { connect as connectHttp2 } from "node:http2";
import { setTimeout as sleep } from "node:timers/promises";
import { connect as connectTls } from "node:tls";
import { ServerCredentials } from "@grpc/grpc-js";
import { ImeifedError } from "../../errors/index.js";
import { ConnectionGuard, startHost, type RunningHost } from "../../rpc/index.js";
import { createTestPki, type TestPki } from "../support/tls-fixture.js";
import { descriptorsBackTo, healthCheck, rawConnection, settledDescriptors } from "../support/raw-http2.js";

const PREFACE_TIMEOUT_MS = 300;
const openDescriptors = () => readdirSync("/proc/self/fd").length;

describe("the connection guard over TLS (real sockets, in process)", () => {
  let pki: TestPki;
  let host: RunningHost;

  before(async () => {
    pki = await createTestPki();
    const credentials = ServerCredentials.createSsl(null, [{ cert_chain: readFileSync(pki.server.cert), private_key: readFileSync(pki.server.key) }], false);
    host = await startHost({ listen: "127.0.0.1:0", services: [], credentials, connections: { maxPerAddress: 2, prefaceTimeoutMs: PREFACE_TIMEOUT_MS } });
  });
  after(async () => {
    await host?.shutdown(100);
    await pki?.cleanup();
  });

  /** An HTTP/2 session over TLS, once the server's SETTINGS arrived. */
  async function tlsSession() {
    const session = connectHttp2(`https://localhost:${host.port}`, { ca: readFileSync(pki.ca) });
    session.on("error", () => {});
    await new Promise<void>((resolve, reject) => {
      session.once("remoteSettings", () => resolve());
      session.once("close", () => reject(new Error("closed before the server's SETTINGS")));
    });
    return session;
  }

  it("caps an address's TLS connections, and gives a closed one's place back", async () => {
    for (let i = 0; i < 5; i++) {
      const session = await tlsSession();
      assert.equal(await healthCheck(session), "0");
      await new Promise<void>((resolve) => session.close(resolve));
    }
    const held = [await tlsSession(), await tlsSession()];
    const refused = connectTls({ port: host.port, host: "127.0.0.1", servername: "localhost", ca: readFileSync(pki.ca), ALPNProtocols: ["h2"] });
    refused.on("error", () => {});
    const outcome = await new Promise<string>((resolve) => {
      refused.once("secureConnect", () => resolve("handshake done"));
      refused.once("close", () => resolve("closed"));
    });
    refused.destroy();
    assert.equal(outcome, "closed", "the third connection is reset before its handshake");
    assert.equal(await healthCheck(held[0]!), "0", "the held ones keep answering");
    for (const session of held) session.destroy();
  });

  it("closes a connection that never starts its TLS handshake, and one that finishes it but sends no preface", async () => {
    const baseline = await settledDescriptors(openDescriptors);
    const silent = await rawConnection(host.port, "127.0.0.1");
    const started = Date.now();
    const handshaken = connectTls({ port: host.port, host: "127.0.0.1", servername: "localhost", ca: readFileSync(pki.ca), ALPNProtocols: ["h2"] });
    handshaken.on("error", () => {});
    handshaken.resume();
    await new Promise((resolve) => handshaken.once("secureConnect", resolve));
    const handshakenClosed = new Promise<number>((resolve) => handshaken.once("close", () => resolve(Date.now() - started)));
    assert.ok((await silent.closed(5_000)) >= PREFACE_TIMEOUT_MS - 5);
    const afterMs = await Promise.race([handshakenClosed, sleep(5_000).then(() => assert.fail("the handshaken connection is still open"))]);
    assert.ok(afterMs >= PREFACE_TIMEOUT_MS - 5, `the handshaken connection closed after ${afterMs} ms`);
    await descriptorsBackTo(openDescriptors, baseline);
  });
});

describe("connection limits", () => {
  it("refuses a limit that is not a positive whole number, naming it", () => {
    assert.throws(
      () => new ConnectionGuard({ maxPerAddress: 0 }),
      (error: unknown) => error instanceof ImeifedError && /maxPerAddress/.test(error.message),
    );
    assert.deepEqual(new ConnectionGuard().limits, { maxTotal: 10_000, maxPerAddress: 256, prefaceTimeoutMs: 5_000, idleTimeoutMs: 300_000, keepaliveMs: 60_000, keepaliveTimeoutMs: 20_000 });
  });
});
