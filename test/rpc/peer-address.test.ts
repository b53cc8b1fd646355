import assert from "node:assert/strict";
import { Client, credentials, Server, ServerCredentials, type ServiceDefinition } from "@grpc/grpc-js";
import { clientAddress, peerAddress } from "../../rpc/index.js";

const identity = (bytes: Buffer) => bytes;
/** One method that answers with the peer grpc-js reports for the call: the strings peerAddress must read. */
const PEER_ECHO: ServiceDefinition = {
  peer: { path: "/test.PeerEcho/Peer", requestStream: false, responseStream: false, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity, originalName: "peer" },
};

describe("the client machine behind a grpc-js peer", () => {
  let server: Server;
  before(() => {
    server = new Server();
    server.addService(PEER_ECHO, { peer: (call: { getPeer(): string }, callback: (error: null, answer: Buffer) => void) => callback(null, Buffer.from(call.getPeer())) });
  });
  after(() => server.forceShutdown());

  /** The peer the server reports for one call over a connection of its own. */
  async function peerOf(listen: string, target: string): Promise<string> {
    const port = await new Promise<number>((resolve, reject) => server.bindAsync(listen, ServerCredentials.createInsecure(), (error, bound) => (error ? reject(error) : resolve(bound))));
    const client = new Client(`${target}:${port}`, credentials.createInsecure(), { "grpc.use_local_subchannel_pool": 1 });
    try {
      return await new Promise<string>((resolve, reject) =>
        client.makeUnaryRequest("/test.PeerEcho/Peer", identity, identity, Buffer.alloc(0), (error, answer) => (error ? reject(error) : resolve(answer!.toString()))),
      );
    } finally {
      client.close();
    }
  }

  it("is one address per client machine for every form grpc-js reports, whatever the connection's port", async () => {
    const cases = [
      { listen: "127.0.0.1:0", target: "127.0.0.1", form: /^127\.0\.0\.1:\d+$/, address: "127.0.0.1" },
      { listen: "[::1]:0", target: "[::1]", form: /^::1:\d+$/, address: "::1" },
      // A dual-stack listener sees an IPv4 client as an IPv4-mapped IPv6 address.
      { listen: "[::]:0", target: "127.0.0.1", form: /^::ffff:127\.0\.0\.1:\d+$/, address: "127.0.0.1" },
    ];
    for (const { listen, target, form, address } of cases) {
      const first = await peerOf(listen, target);
      const second = await peerOf(listen, target);
      assert.match(first, form, `what grpc-js reports for ${target} on ${listen}`);
      assert.notEqual(first, second, "two connections, two ports");
      assert.deepEqual([peerAddress(first), peerAddress(second)], [address, address]);
    }
  });

  it("takes the port off by position, so a chosen source port never makes a new key", () => {
    // Each of these would parse as an IPv6 address of its own if the port were kept.
    assert.equal(peerAddress("2001:db8::1:1234"), "2001:db8::1");
    assert.equal(peerAddress("2001:db8::1:4321"), "2001:db8::1");
    assert.equal(peerAddress("::1:5130"), "::1");
  });

  it("reads the bracketed and scheme-prefixed spellings, and an address-less peer", () => {
    assert.equal(peerAddress("[::1]:51300"), "::1");
    assert.equal(peerAddress("ipv4:10.0.0.7:51234"), "10.0.0.7");
    assert.equal(peerAddress("ipv6:[2001:DB8::1]:443"), "2001:db8::1");
    assert.equal(peerAddress("ipv6:[::ffff:10.0.0.7]:443"), "10.0.0.7");
    assert.equal(peerAddress("unknown"), "unknown");
    assert.equal(clientAddress(undefined), "unknown");
    assert.equal(clientAddress("::FFFF:10.0.0.7"), "10.0.0.7");
  });
});
