import assert from "node:assert/strict";
import { RegistryService } from "../../../gen/imeifed/v1/registry_pb.js";
import { Code, ImeifedError } from "../../../errors/index.js";
import { createClient, type RunningHost } from "../../../rpc/index.js";
import { createTestTrust, type TestTrust } from "../../support/trust-fixture.js";
import { startEchoRegistry } from "./echo-registry.js";

describe("a watch lives no longer than its token (real sockets)", () => {
  let fixture: TestTrust;
  let host: RunningHost;
  let client: ReturnType<typeof createClient<typeof RegistryService>>;

  before(async () => {
    fixture = await createTestTrust();
    // No clock tolerance, so the test need not wait out the default 30 s of it.
    host = await startEchoRegistry({ interceptors: [fixture.authenticator("registry-gb", { WatchSightings: "devices:watch" }, { clockToleranceSec: 0 })] });
    client = createClient(RegistryService, host.address);
  });
  after(async () => {
    client?.close();
    await host?.shutdown();
    await fixture?.cleanup();
  });

  /** How the watch opened with `token` ended, and after how long. */
  async function watchUntilEnd(token: string, giveUpMs: number): Promise<{ error: unknown; afterMs: number }> {
    const started = Date.now();
    const stop = AbortSignal.timeout(giveUpMs);
    try {
      for await (const _ of client.watchSightings({}, { metadata: { authorization: `Bearer ${token}` }, signal: stop })) {
        // the idle watch sends nothing
      }
      return { error: undefined, afterMs: Date.now() - started };
    } catch (error) {
      return { error, afterMs: Date.now() - started };
    }
  }

  it("ends a watch with UNAUTHENTICATED STREAM_EXPIRED when the token it was opened with expires", async () => {
    const token = await fixture.token("police-gb", { audience: "registry-gb", ttlSec: 2 });
    const { error, afterMs } = await watchUntilEnd(token, 10_000);
    assert.ok(error instanceof ImeifedError, String(error));
    assert.deepEqual([Code[error.code], error.reason], ["UNAUTHENTICATED", "STREAM_EXPIRED"]);
    assert.match(error.message, /reopen it with a fresh token/);
    assert.ok(afterMs < 5_000, `ended after ${afterMs} ms`);
  });

  it("leaves a watch whose token is still valid open", async () => {
    const token = await fixture.token("police-gb", { audience: "registry-gb", ttlSec: 300 });
    const { error } = await watchUntilEnd(token, 1_500);
    // Still open when the caller gave up: the only end is its own cancellation.
    assert.ok(error instanceof ImeifedError && error.code === Code.CANCELLED, String(error));
  });
});
