import assert from "node:assert/strict";
import { once } from "node:events";
import { connect } from "node:http2";
import { setTimeout as sleep } from "node:timers/promises";
import { startHost, type RunningHost } from "../../rpc/index.js";
import { CONNECTION_WINDOW_BYTES, STREAM_WINDOW_BYTES } from "../../rpc/flow-control.js";

describe("HTTP/2 flow-control windows of a hosted server (real socket)", () => {
  let host: RunningHost;
  before(async () => {
    host = await startHost({ listen: "127.0.0.1:0", services: [] });
  });
  after(async () => host.shutdown());

  it("grants each stream and each connection the wider windows, not HTTP/2's 64 KiB", async () => {
    const session = connect(`http://${host.address}`);
    try {
      const [settings] = (await once(session, "remoteSettings")) as [{ initialWindowSize?: number }];
      assert.equal(settings.initialWindowSize, STREAM_WINDOW_BYTES, "the stream window the server advertises");
      // The connection window comes as a WINDOW_UPDATE right after the settings.
      for (let i = 0; i < 100 && session.state.remoteWindowSize !== CONNECTION_WINDOW_BYTES; i++) await sleep(10);
      assert.equal(session.state.remoteWindowSize, CONNECTION_WINDOW_BYTES, "the connection window the server grants");
    } finally {
      session.close();
    }
  });
});
