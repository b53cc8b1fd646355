import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { verifyAttestation } from "../../trust/attestation.js";
import { startTestRegistry } from "../support/registry-fixture.js";
import { imeiOf, startScreeningFederation, type ScreeningFederation } from "./support/screening-federation.js";

const CLI = resolve(import.meta.dirname, "../../cli/bin.js");
const STOLEN_BR = "35693803700012";

/** Runs `imeifed screen ...` as a child process (asynchronously: the gateway runs in this process). */
function imeifed(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 20_000 }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === "number" ? error.code : -1) : 0;
      done({ code, stdout, stderr });
    });
  });
}

describe("imeifed screen (the customs command line, as a child process)", function () {
  this.timeout(60_000);
  let fed: ScreeningFederation;
  let dir: string;
  let token: string;
  let deadGateway: string;
  let halfGateway: string;
  const manifest = (name: string, lines: string[]) => {
    const path = join(dir, name);
    return writeFile(path, lines.join("\n") + "\n").then(() => path);
  };
  const base = (file: string, gateway = fed.gateway.address) => [
    "screen",
    file,
    "--destination",
    "HK",
    "--declaration",
    "DEC-CLI-1",
    "--gateway",
    gateway,
    "--token",
    token,
  ];

  before(async () => {
    fed = await startScreeningFederation({ seed: { BR: [{ imeis: [imeiOf(STOLEN_BR)] }] } });
    dir = await mkdtemp(join(tmpdir(), "imeifed-screen-cli-"));
    token = join(dir, "customs-gb.token");
    await writeFile(token, (await fed.trust.token("customs-gb", { audience: "gateway", ttlSec: 900 })) + "\n");
    // An address where nothing listens any more, for "gateway unreachable" and "registry down".
    const gone = await startTestRegistry({ country: "US", trust: fed.trust });
    deadGateway = gone.registry.address;
    await gone.cleanup();
    const live = ["GB", "ES", "JP", "BR"].map((country) => ({ country, address: fed.registries.get(country)!.registry.address }));
    halfGateway = (await fed.startGateway([...live, { country: "US", address: deadGateway }], {}, {}, 0)).address;
  });
  after(async () => {
    await fed?.cleanup();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("exits 0 on a clean manifest and prints the summary", async () => {
    const file = await manifest("clean.csv", ["line_reference,device_id,declared_make,declared_model", `A-1,${imeiOf("35693803000102")},Apple,iPhone 12`, `A-2,${imeiOf("35693803000110")},Apple,`]);
    const run = await imeifed(base(file));
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /DEC-CLI-1: RELEASE/);
    assert.match(run.stdout, /items screened\s+2/);
    assert.match(run.stderr, /screening: 2 items screened/, "plain progress lines when stderr is not a terminal");
  });

  it("exits 2 with findings and writes them, with attestations, to a CSV or JSON report", async () => {
    const lines = ["device_id,declared_make,extra", `${imeiOf(STOLEN_BR)},Apple,x`, "12345,,y", `"${imeiOf("35693803000128")}",Apple,z`, `${STOLEN_BR}00,,w`];
    const file = await manifest("findings.csv", lines);
    const csv = join(dir, "report.csv");
    const run = await imeifed([...base(file), "--report", csv]);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stdout, /HOLD/);
    const rows = (await readFile(csv, "utf8")).trim().split("\n");
    assert.equal(rows[0], "item_index,line_reference,device_id,outcome,detail,device_key,declared_make,declared_model,registries,attestations");
    assert.equal(rows.length, 4);
    assert.match(rows[1]!, new RegExp(`^0,line 2,${imeiOf(STOLEN_BR)},PROHIBITED,`));
    assert.match(rows[1]!, /BR:PROHIBITED/);
    const attestation = rows[1]!.split(",").at(-1)!;
    assert.equal((await verifyAttestation(attestation, fed.registries.get("BR")!.registry.jwks)).device_key, STOLEN_BR);
    assert.match(rows[2]!, /^1,line 3,12345,MALFORMED,/);
    assert.match(rows[3]!, /^3,line 5,/);
    assert.match(rows[3]!, /DUPLICATE/);

    const json = join(dir, "report.json");
    assert.equal((await imeifed([...base(file), "--report", json])).code, 2);
    const report = JSON.parse(await readFile(json, "utf8")) as { findings: { outcome: string; itemIndex: string }[]; summary: { decision: string; itemsScreened: string } };
    assert.deepEqual(report.findings.map((f) => f.outcome), ["SCREENING_OUTCOME_PROHIBITED", "SCREENING_OUTCOME_MALFORMED", "SCREENING_OUTCOME_DUPLICATE"]);
    assert.equal(report.summary.decision, "SCREENING_DECISION_HOLD");
    assert.equal(report.summary.itemsScreened, "4");
  });

  it("exits 3 when only a registry's silence holds the shipment, and 0 with --on-unanswered pass", async () => {
    const file = await manifest("unanswered.csv", ["device_id", imeiOf("35693803000136")]);
    const held = await imeifed(base(file, halfGateway));
    assert.equal(held.code, 3, held.stderr + held.stdout);
    assert.match(held.stdout, /did not answer: US/);
    const passed = await imeifed([...base(file, halfGateway), "--on-unanswered", "pass"]);
    assert.equal(passed.code, 0, passed.stderr);
  });

  it("exits 1 on errors: unreachable gateway, refused token, unreadable or malformed manifest", async () => {
    const file = await manifest("one.csv", ["device_id", imeiOf("35693803000144")]);
    const unreachable = await imeifed(base(file, deadGateway));
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, /imeifed screen: /);

    const wrongAudience = join(dir, "wrong.token");
    await writeFile(wrongAudience, await fed.trust.token("customs-gb", { audience: "registry-gb" }));
    const refused = await imeifed([...base(file).slice(0, -1), wrongAudience]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /audience|aud/i);

    const noColumn = await manifest("no-column.csv", ["serial", imeiOf("35693803000144")]);
    const bad = await imeifed(base(noColumn));
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /no-column\.csv: line 1: the header names no IMEI column/);
    const missing = await imeifed(base(join(dir, "nope.csv")));
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /nope\.csv/);
  });

  it("exits 64 on a usage mistake, and reads the pilot's demo.json with --demo/--as", async () => {
    const file = await manifest("demo.csv", ["device_id", imeiOf("35693803000151")]);
    const usage = await imeifed(["screen", file, "--destination", "HK", "--gateway", fed.gateway.address, "--token", token]);
    assert.equal(usage.code, 64);
    assert.match(usage.stderr, /--declaration is required/);
    await writeFile(join(dir, "demo.json"), JSON.stringify({ gateway: fed.gateway.address, tokens: { "customs-gb": "customs-gb.token" } }));
    const demo = await imeifed(["screen", file, "--destination", "HK", "--declaration", "DEC-DEMO", "--demo", dir, "--as", "customs-gb"]);
    assert.equal(demo.code, 0, demo.stderr);
  });
});
