import assert from "node:assert/strict";
import { credentials, ServerCredentials } from "@grpc/grpc-js";
import { RegistryService } from "../../../gen/imeifed/v1/registry_pb.js";
import { Code } from "../../../errors/index.js";
import { createClient, type RunningHost } from "../../../rpc/index.js";
import { channelCredentials, serverCredentials, tlsChannelOptions } from "../../../trust/tls.js";
import { createTestPki, type TestPki } from "../../support/tls-fixture.js";
import { createTestTrust, type TestTrust } from "../../support/trust-fixture.js";
import { ECHO_SCOPES, echoed, startEchoRegistry } from "./echo-registry.js";
import { refused } from "./refused.js";

describe("TLS and mutual TLS (real sockets, throw-away CA made with openssl)", function () {
  this.timeout(30_000);
  let pki: TestPki;
  let fixture: TestTrust;

  before(async () => {
    [pki, fixture] = await Promise.all([createTestPki(), createTestTrust()]);
  });
  after(async () => {
    await pki?.cleanup();
    await fixture?.cleanup();
  });

  /** Calls CheckDevice with a police-es token over the given credentials and returns the echoed principal. */
  async function callAs(host: RunningHost, creds: Awaited<ReturnType<typeof channelCredentials>>): Promise<string | null> {
    const client = createClient(RegistryService, `localhost:${host.port}`, {
      credentials: creds,
      metadata: fixture.metadataFor("police-es", "registry-es"),
    });
    try {
      const answer = await client.checkDevice({ imei: "490154203237518" }, { deadline: 5_000 });
      return echoed(answer.check?.finding?.reportingAgency).principal;
    } finally {
      client.close();
    }
  }

  describe("with server TLS", () => {
    let host: RunningHost;
    before(async () => {
      host = await startEchoRegistry({
        credentials: await serverCredentials({ cert: pki.server.cert, key: pki.server.key }),
        interceptors: [fixture.authenticator("registry-es", { ...ECHO_SCOPES })],
      });
    });
    after(() => host?.shutdown());

    it("serves a client that trusts the CA, and authenticates its token", async () => {
      assert.equal(await callAs(host, await channelCredentials({ ca: pki.ca })), "police-es");
    });

    it("serves a client dialling 127.0.0.1 that expects the certificate's name (serverName)", async () => {
      const tls = { ca: pki.ca, serverName: "localhost" };
      const client = createClient(RegistryService, `127.0.0.1:${host.port}`, { credentials: await channelCredentials(tls), channelOptions: tlsChannelOptions(tls) });
      try {
        assert.equal(echoed((await client.getKeys({}, { deadline: 5_000 })).jwksJson).principal, null);
      } finally {
        client.close();
      }
    });

    it("is refused by a client that does not trust the CA (system roots, or another CA)", async () => {
      await refused(callAs(host, await channelCredentials({})), Code.UNAVAILABLE, "UNAVAILABLE");
      await refused(callAs(host, await channelCredentials({ ca: pki.otherCa })), Code.UNAVAILABLE, "UNAVAILABLE");
    });

    it("does not talk to a plaintext client", async () => {
      await refused(callAs(host, credentials.createInsecure()), Code.UNAVAILABLE, "UNAVAILABLE");
    });
  });

  describe("with mutual TLS", () => {
    let host: RunningHost;
    before(async () => {
      host = await startEchoRegistry({
        credentials: await serverCredentials({ cert: pki.server.cert, key: pki.server.key, ca: pki.ca, requireClientCert: true }),
        interceptors: [fixture.authenticator("registry-es", { ...ECHO_SCOPES })],
      });
    });
    after(() => host?.shutdown());

    it("serves a client presenting a certificate signed by the CA", async () => {
      assert.equal(await callAs(host, await channelCredentials({ ca: pki.ca, cert: pki.client.cert, key: pki.client.key })), "police-es");
    });

    it("refuses a client without a certificate", async () => {
      await refused(callAs(host, await channelCredentials({ ca: pki.ca })), Code.UNAVAILABLE, "UNAVAILABLE");
    });

    it("refuses a client whose certificate another CA signed", async () => {
      await refused(callAs(host, await channelCredentials({ ca: pki.ca, cert: pki.strangerClient.cert, key: pki.strangerClient.key })), Code.UNAVAILABLE, "UNAVAILABLE");
    });
  });

  describe("config", () => {
    it("refuses mutual TLS without a CA for client certificates", async () => {
      await refused(serverCredentials({ cert: pki.server.cert, key: pki.server.key, requireClientCert: true }), Code.FAILED_PRECONDITION, "TLS_CONFIG_INVALID", "needs ca");
    });

    it("names a certificate file it cannot read, and a file that is not PEM", async () => {
      await refused(serverCredentials({ cert: `${pki.dir}/missing.crt`, key: pki.server.key }), Code.FAILED_PRECONDITION, "TLS_CONFIG_INVALID", `tls.cert: cannot read ${pki.dir}/missing.crt: ENOENT`);
      await refused(channelCredentials({ ca: `${pki.dir}/server.ext` }), Code.FAILED_PRECONDITION, "TLS_CONFIG_INVALID", "is not a PEM file");
    });

    it("refuses a client certificate without its key", async () => {
      await refused(channelCredentials({ ca: pki.ca, cert: pki.client.cert }), Code.FAILED_PRECONDITION, "TLS_CONFIG_INVALID", "give both cert and key");
    });
  });

  describe("a listener on a non-loopback address", () => {
    it("refuses to start without TLS", async () => {
      await refused(
        startEchoRegistry({ listen: "0.0.0.0:0", interceptors: [] }),
        Code.FAILED_PRECONDITION,
        "INSECURE_LISTEN",
        "refusing to listen on 0.0.0.0:0 without TLS",
      );
    });

    it("starts with TLS", async () => {
      const host = await startEchoRegistry({
        listen: "0.0.0.0:0",
        credentials: await serverCredentials({ cert: pki.server.cert, key: pki.server.key }),
        interceptors: [],
      });
      try {
        const client = createClient(RegistryService, `localhost:${host.port}`, { credentials: await channelCredentials({ ca: pki.ca }) });
        try {
          await client.getKeys({}, { deadline: 5_000 });
        } finally {
          client.close();
        }
      } finally {
        await host.shutdown();
      }
    });

    it("is still refused plaintext when credentials are explicitly insecure", async () => {
      await refused(
        startEchoRegistry({ listen: "0.0.0.0:0", credentials: ServerCredentials.createInsecure(), interceptors: [] }),
        Code.FAILED_PRECONDITION,
        "INSECURE_LISTEN",
      );
    });
  });
});
