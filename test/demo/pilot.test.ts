import assert from "node:assert/strict";
import type { ChildProcess } from "node:child_process";
import { once } from "node:events";
import { readFile } from "node:fs/promises";
import { FederationService, Verdict } from "../../gen/imeifed/v1/federation_pb.js";
import { createClient } from "../../rpc/index.js";
import type { DemoManifest } from "../../demo/run-demo.js";
import { alive, startPilot, type PilotProcess } from "../support/pilot-process.js";
import { DiameterClient, equipmentStatusOf, resultCodeOf } from "../networks/s13/support/diameter-client.js";
import { H2cEir } from "../networks/support/eir-client.js";
import { within } from "../support/waiting.js";


describe("the pilot federation (imeifed demo)", function () {
  this.timeout(120_000);
  let pilot: PilotProcess;
  let demo: ChildProcess;
  let manifest: DemoManifest;

  before(async () => {
    pilot = await startPilot(400);
    demo = pilot.demo;
    manifest = pilot.manifest;
  });

  after(async () => {
    await pilot?.stop();
  });

  it("writes demo.json with the gateway, five registries, tokens, a manufacturer and samples", () => {
    assert.match(manifest.gateway, /^127\.0\.0\.1:\d+$/);
    assert.deepEqual(Object.keys(manifest.registries).sort(), ["BR", "ES", "GB", "JP", "US"]);
    for (const id of ["police-gb", "police-jp", "police-br", "police-es", "police-us", "customs-gb", "oem-demo", "operator-hk"]) assert.ok(manifest.tokens[id], id);
    assert.ok((manifest.manufacturers["oem-demo"] ?? []).length > 0);
    assert.ok(manifest.samples.prohibited.length > 0 && manifest.samples.tracked.length > 0 && manifest.samples.permitted.length > 0);
  });

  it("serves the console in pilot mode at the URL demo.json names", async () => {
    assert.match(manifest.console.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const page = await fetch(manifest.console.url);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<script type="module" src="\/app\.js">/);
  });

  it("answers a sample prohibited and a sample permitted device from all five registries, as police-es", async () => {
    const token = (await readFile(manifest.tokens["police-es"]!, "utf8")).trim();
    const client = createClient(FederationService, manifest.gateway, { metadata: () => ({ authorization: `Bearer ${token}` }) });
    try {
      const prohibited = await client.lookup({ imei: manifest.samples.prohibited[0]!, purpose: "PILOT-TEST" }, { deadline: 10_000 });
      assert.equal(prohibited.verdict, Verdict.PROHIBITED);
      assert.equal(prohibited.unanswered.length, 0);
      assert.ok(prohibited.findings[0]?.finding?.attestation);
      const permitted = await client.lookup({ imei: manifest.samples.permitted.at(-1)!, purpose: "PILOT-TEST" }, { deadline: 10_000 });
      // PERMITTED needs every one of the five registries to have answered.
      assert.equal(permitted.verdict, Verdict.PERMITTED);
      assert.equal(permitted.unanswered.length, 0);
    } finally {
      client.close();
    }
  });

  it("serves S13 to operator-dz's MME as demo.json's eir.s13 names it: a sample prohibited device is BLACKLISTED, a permitted one WHITELISTED", async () => {
    const s13 = manifest.eir.s13;
    assert.match(s13.address, /^127\.0\.0\.1:\d+$/);
    const peer = s13.peers["operator-dz"]!;
    const mme = await DiameterClient.open(Number(s13.address.split(":")[1]), peer);
    try {
      const prohibited = await mme.ask(mme.meIdentityCheck(manifest.samples.prohibited[0]!.slice(0, 14)));
      assert.deepEqual([resultCodeOf(prohibited), equipmentStatusOf(prohibited)], [2001, 1]);
      const permitted = await mme.ask(mme.meIdentityCheck(manifest.samples.permitted.at(-1)!.slice(0, 14)));
      assert.deepEqual([resultCodeOf(permitted), equipmentStatusOf(permitted)], [2001, 0]);
    } finally {
      mme.close();
    }
  });

  it("serves N5g-eir for operator-hk at eir.n5g over h2c prior knowledge", async () => {
    assert.match(manifest.eir.n5g, /^http:\/\/127\.0\.0\.1:\d+$/);
    const token = (await readFile(manifest.tokens["operator-hk"]!, "utf8")).trim();
    const eir = new H2cEir(manifest.eir.n5g);
    try {
      const ask = async (imei: string) => String(((await eir.get(`/n5g-eir-eic/v1/equipment-status?pei=imei-${imei}`, { authorization: `Bearer ${token}` })).json as { status?: string }).status);
      // A check that outlives its budget on a busy machine is answered by the unanswered policy (WHITELISTED): ask again.
      await within(10_000, () => ask(manifest.samples.prohibited[0]!), "BLACKLISTED");
      await within(10_000, () => ask(manifest.samples.tracked[0]!), "GREYLISTED");
      assert.equal(await ask(manifest.samples.permitted.at(-1)!), "WHITELISTED");
    } finally {
      eir.close();
    }
  });

  it("stops every process cleanly on Ctrl-C", async () => {
    const pids = Object.values(manifest.processes);
    assert.equal(pids.length, 6);
    const exited = once(demo, "exit");
    demo.kill("SIGINT");
    const [code] = await exited;
    assert.equal(code, 0);
    for (const pid of pids) assert.equal(alive(pid), false, `process ${pid} still runs`);
  });
});
