/**
 * ConsoleService over real sockets without a browser: the refusals and bounds
 * the page relies on, against a real gateway and registries (the pilot).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { Code, ConnectError, createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { ConsoleService, ReportFormat } from "../../gen/imeifed/console/v1/console_pb.js";
import { consoleConfigFrom } from "../../console/server/console-config.js";
import { startConsole, type RunningConsole } from "../../console/server/console-server.js";
import { MAX_SCREENINGS } from "../../console/server/console-service.js";
import { unlistedImei } from "../../demo/synthetic-records.js";
import { keyFileNames } from "../../trust/keys.js";
import { startPilot, type PilotFederation } from "./pilot-console.js";

async function connectError(call: Promise<unknown>): Promise<ConnectError> {
  try {
    await call;
  } catch (error) {
    return ConnectError.from(error);
  }
  assert.fail("the call succeeded");
}

describe("ConsoleService (Connect, no browser)", function () {
  this.timeout(120_000);
  let pilot: PilotFederation;
  let agency: RunningConsole;
  let client: Client<typeof ConsoleService>;

  before(async () => {
    pilot = await startPilot();
    const config = await consoleConfigFrom(
      { listen: "127.0.0.1:0", gateway: { address: pilot.manifest.gateway }, principals: [{ id: "customs-gb", kind: "customs", country: "GB", key: join("keys", keyFileNames("customs-gb").privateJwk) }] },
      pilot.dir,
    );
    agency = await startConsole(config, { log: () => {} });
    client = createClient(ConsoleService, createConnectTransport({ baseUrl: agency.url, httpVersion: "1.1" }));
  });
  after(async () => {
    await agency?.close();
    await pilot?.stop();
  });

  it("acts only as its one agency: another principal is refused, and there is no choice to offer", async () => {
    const session = await client.getSession({});
    assert.equal(session.defaultPrincipal?.id, "customs-gb");
    assert.equal(session.pilot, false);
    assert.deepEqual(session.choices, []);
    const error = await connectError(client.lookup({ imei: unlistedImei(1), purpose: "CASE-1", actAs: "police-es" }));
    assert.equal(error.code, Code.PermissionDenied);
    assert.match(error.rawMessage, /acts only as customs-gb/);
  });

  it("passes on the gateway's refusal of a bad IMEI with its status and message", async () => {
    const error = await connectError(client.lookup({ imei: "35291611000008", purpose: "" }));
    assert.equal(error.code, Code.InvalidArgument);
    assert.match(error.rawMessage, /purpose/);
    const luhn = await connectError(client.lookup({ imei: "352916110000082", purpose: "CASE-1" }));
    assert.equal(luhn.code, Code.InvalidArgument);
    assert.match(luhn.rawMessage, /Luhn/);
  });

  it("refuses police calls for an agency without a home registry, and an unknown report", async () => {
    const report = await connectError(client.reportTheft({ imeis: [unlistedImei(2)], caseReference: "C-1" }));
    assert.equal(report.code, Code.FailedPrecondition);
    assert.match(report.rawMessage, /no home registry/);
    const missing = await connectError(client.getScreeningReport({ reportId: "no-such-report", format: ReportFormat.CSV }));
    assert.equal(missing.code, Code.NotFound);
  });

  it(`refuses a screening past ${MAX_SCREENINGS} at once, and an empty manifest`, async () => {
    const empty = await connectError(client.screen({ manifest: new Uint8Array(), fileName: "x.csv", shipment: { declarationReference: "D-1", destinationCountry: "HK" } })[Symbol.asyncIterator]().next());
    assert.equal(empty.code, Code.InvalidArgument);
    const lines = ["device_id", ...Array.from({ length: 60_000 }, (_, i) => unlistedImei(i + 100))].join("\n");
    const manifest = new TextEncoder().encode(lines);
    const controller = new AbortController();
    const running = Array.from({ length: MAX_SCREENINGS }, () =>
      client.screen({ manifest, fileName: "big.csv", shipment: { declarationReference: "D-2", destinationCountry: "HK" } }, { signal: controller.signal })[Symbol.asyncIterator](),
    );
    try {
      // Each has started once its first message (progress) arrives.
      await Promise.all(running.map((r) => r.next()));
      const refused = await connectError(client.screen({ manifest, fileName: "third.csv", shipment: { declarationReference: "D-3", destinationCountry: "HK" } })[Symbol.asyncIterator]().next());
      assert.equal(refused.code, Code.ResourceExhausted);
    } finally {
      controller.abort();
      await Promise.allSettled(running.map((r) => r.return?.()));
    }
  });
});
