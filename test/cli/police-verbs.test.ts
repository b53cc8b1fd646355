/**
 * The police's verbs as a pilot participant runs them: every command a child
 * process (`node cli/bin.js ...`), against a real pilot federation (five
 * registries and a gateway, each its own process, started by `imeifed demo`).
 * A theft reported in GB is read PROHIBITED from ES, found in Madrid, seen by
 * the Met in its sightings, refused to anyone else's clearing, cleared by the
 * Met, and read PERMITTED again.
 */
import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import type { DemoManifest } from "../../demo/run-demo.js";
import { luhnCheckDigit } from "../../device/index.js";
import { startPilot, type PilotProcess } from "../support/pilot-process.js";

const BIN = resolve(import.meta.dirname, "../../cli/bin.js");

function imeifed(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 30_000 }, (error, stdout, stderr) => {
      done({ code: error ? (typeof error.code === "number" ? error.code : -1) : 0, stdout, stderr });
    });
  });
}

/** A device no synthetic record uses (the pilot's serials stay below 900,000 per country). */
const imeiOf = (body: string) => body + String(luhnCheckDigit(body));
const STOLEN = imeiOf("35693803970001");
const DUAL = [imeiOf("35332011970019"), imeiOf("35332011970027")] as const;

describe("imeifed report, lookup, found, sightings and clear against the pilot federation (child processes)", function () {
  this.timeout(180_000);
  let pilot: PilotProcess;
  let dir: string;
  let manifest: DemoManifest;
  const as = (id: string) => ["--demo", dir, "--as", id];
  const verdictFromEs = async (imei: string) => {
    const run = await imeifed(["lookup", imei, ...as("police-es"), "--purpose", "ES-2026-118", "--json"]);
    assert.equal(run.code, 0, run.stderr);
    return (JSON.parse(run.stdout) as { verdict: string }).verdict;
  };

  before(async () => {
    pilot = await startPilot(300);
    dir = pilot.dir;
    manifest = pilot.manifest;
  });

  after(async () => {
    await pilot?.stop();
  });

  it("demo.json lists each police agency's home registry and key", () => {
    for (const country of ["GB", "ES", "JP", "BR", "US"]) {
      const agency = manifest.agencies[`police-${country.toLowerCase()}`];
      assert.ok(agency, country);
      assert.equal(agency.country, country);
      assert.equal(agency.registryId, `registry-${country.toLowerCase()}`);
      assert.ok(manifest.registries[agency.country]);
    }
  });

  it("a theft reported in GB: read PROHIBITED from ES, found, in the Met's sightings, refused to ES's clearing, cleared by the Met, PERMITTED again", async () => {
    assert.equal(await verdictFromEs(STOLEN), "VERDICT_PERMITTED");

    const reported = await imeifed(["report", STOLEN, ...as("police-gb"), "--case", "MET-2026-4471", "--reason", "stolen", "--crime-ref", "CRIS-5501", "--make", "Apple", "--model", "iPhone 12", "--occurred-at", "2026-12-01T18:30:00Z"]);
    assert.equal(reported.code, 0, reported.stderr);
    assert.match(reported.stdout, /^reported in GB: 35693803\*{5}\d\d {2}record \S+ {2}sequence \d+$/m);
    const again = await imeifed(["report", STOLEN, ...as("police-gb"), "--case", "MET-2026-4471", "--reason", "stolen", "--json"]);
    assert.equal(again.code, 0, again.stderr);
    assert.equal((JSON.parse(again.stdout) as { devices: { created?: boolean }[] }).devices[0]!.created ?? false, false, "a replay creates nothing");

    const lookup = await imeifed(["lookup", STOLEN, ...as("police-es"), "--purpose", "ES-2026-118"]);
    assert.equal(lookup.code, 0, lookup.stderr);
    assert.match(lookup.stdout, /Verdict {4}PROHIBITED/);
    assert.match(lookup.stdout, /GB +PROHIBITED +STOLEN .*police-gb +yes/);

    // The Met follows its sightings while Madrid reports the phone found.
    const follower = spawn(process.execPath, [BIN, "sightings", ...as("police-gb"), "--follow", "--json"], { stdio: ["ignore", "pipe", "pipe"] });
    const sightings: { kind: string; deviceKey: string; caseReference: string; seenInCountry: string; found?: { location: string; contact: string } }[] = [];
    const foundSeen = new Promise<void>((seen) => {
      createInterface({ input: follower.stdout! }).on("line", (line) => {
        const s = JSON.parse(line) as (typeof sightings)[number];
        sightings.push(s);
        if (s.kind === "SIGHTING_KIND_FOUND") seen();
      });
    });
    const found = await imeifed(["found", STOLEN, ...as("police-es"), "--where", "Comisaría Centro, Madrid", "--contact", "+34 91 000 0000", "--note", "screen cracked", "--purpose", "ES-2026-118"]);
    assert.equal(found.code, 0, found.stderr);
    assert.match(found.stdout, /found report recorded for 35693803\*{5}\d\d by: GB/);
    await Promise.race([foundSeen, new Promise((_, fail) => setTimeout(() => fail(new Error(`no found sighting; saw ${JSON.stringify(sightings)}`)), 20_000))]);
    const exited = once(follower, "exit");
    follower.kill("SIGINT");
    const [code] = await exited;
    assert.equal(code, 0, "sightings --follow stops cleanly on Ctrl-C");
    const foundSighting = sightings.find((s) => s.kind === "SIGHTING_KIND_FOUND")!;
    assert.equal(foundSighting.deviceKey, STOLEN.slice(0, 14));
    assert.equal(foundSighting.caseReference, "MET-2026-4471");
    assert.equal(foundSighting.seenInCountry, "ES");
    assert.deepEqual([foundSighting.found?.location, foundSighting.found?.contact], ["Comisaría Centro, Madrid", "+34 91 000 0000"]);
    assert.ok(sightings.some((s) => s.kind === "SIGHTING_KIND_LOOKUP_HIT" && s.deviceKey === STOLEN.slice(0, 14)), "ES's lookup tripped the wire too");

    // The same sightings as a listing that ends by itself, as a person reads them.
    const listing = await imeifed(["sightings", ...as("police-gb")]);
    assert.equal(listing.code, 0, listing.stderr);
    assert.match(listing.stdout, /found +35693803\*{4}\d\d +seen in ES by police:police-es +case MET-2026-4471 +purpose ES-2026-118 +at "Comisaría Centro, Madrid", held by "Policía Nacional \(pilot\)", contact "\+34 91 000 0000", note "screen cracked"/);
    // Sightings are the reporting agency's own: Spain's police see none of the Met's.
    const others = await imeifed(["sightings", ...as("police-es"), "--json"]);
    assert.equal(others.code, 0, others.stderr);
    assert.doesNotMatch(others.stdout, /MET-2026-4471/);

    // Spain may not clear the Met's case, even at the GB registry.
    const refused = await imeifed(["clear", STOLEN, ...as("police-es"), "--country", "GB", "--reason", "recovered"]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^imeifed clear: you hold no open record of device 35693803\*{4}\d\d; only the reporting agency or this registry's administrator may clear a record$/m);
    assert.equal(await verdictFromEs(STOLEN), "VERDICT_PROHIBITED");

    const cleared = await imeifed(["clear", STOLEN, ...as("police-gb"), "--case", "MET-2026-4471", "--reason", "returned", "--note", "returned to owner"]);
    assert.equal(cleared.code, 0, cleared.stderr);
    assert.match(cleared.stdout, /^cleared in GB: 35693803\*{5}\d\d {2}records \S+/m);
    assert.match(cleared.stdout, /status now PERMITTED/);
    assert.equal(await verdictFromEs(STOLEN), "VERDICT_PERMITTED");
  });

  it("reports a dual-SIM phone by both IMEIs on one case, the second IMEI reads TRACKED from ES, and --json answers for scripts", async () => {
    const run = await imeifed(["report", ...DUAL, ...as("police-gb"), "--case", "MET-2026-4480", "--reason", "lost", "--status", "tracked", "--json"]);
    assert.equal(run.code, 0, run.stderr);
    const answer = JSON.parse(run.stdout) as { devices: { device: { deviceKey: string }; created: boolean }[] };
    assert.deepEqual(answer.devices.map((d) => [d.device.deviceKey, d.created]), [[DUAL[0].slice(0, 14), true], [DUAL[1].slice(0, 14), true]]);
    assert.equal(await verdictFromEs(DUAL[1]), "VERDICT_TRACKED");
    const cleared = await imeifed(["clear", DUAL[0], ...as("police-gb"), "--reason", "reported-in-error", "--json"]);
    assert.equal(cleared.code, 0, cleared.stderr);
    assert.equal((JSON.parse(cleared.stdout) as { status: string }).status, "DEVICE_STATUS_PERMITTED");
  });

  it("takes --registry ADDR --token FILE with a token minted by imeifed token", async () => {
    const gb = manifest.agencies["police-gb"]!;
    const minted = await imeifed(["token", "--key", gb.keyFile, "--iss", "police-gb", "--aud", "registry-gb", "--scope", "devices:report devices:watch", "--ttl", "5m"]);
    assert.equal(minted.code, 0, minted.stderr);
    const tokenFile = join(dir, "police-gb.registry.jwt");
    await writeFile(tokenFile, minted.stdout);
    const target = ["--registry", manifest.registries.GB!, "--token", tokenFile];
    const imei = imeiOf("35693803970035");
    const reported = await imeifed(["report", imei, ...target, "--case", "MET-2026-4490", "--reason", "stolen"]);
    assert.equal(reported.code, 0, reported.stderr);
    assert.match(reported.stdout, /^reported: /);
    const listing = await imeifed(["sightings", ...target, "--after", "0"]);
    assert.equal(listing.code, 0, listing.stderr);
    // A token for another registry is refused by this one, and the message says why.
    const wrong = join(dir, "wrong.jwt");
    await writeFile(wrong, (await imeifed(["token", "--key", gb.keyFile, "--iss", "police-gb", "--aud", "registry-es", "--scope", "devices:report"])).stdout);
    const refused = await imeifed(["clear", imei, "--registry", manifest.registries.GB!, "--token", wrong, "--reason", "recovered"]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^imeifed clear: .*(audience|aud)/im);
  });

  it("exits 64 with a message on usage mistakes", async () => {
    const cases: [string[], RegExp][] = [
      [["report", STOLEN, ...as("police-gb"), "--reason", "stolen"], /--case is required/],
      [["report", STOLEN, ...as("police-gb"), "--case", "C", "--reason", "nicked"], /--reason: "nicked" is not one of stolen, lost, fraud/],
      [["report", STOLEN, ...as("police-gb"), "--case", "C", "--reason", "stolen", "--status", "permitted"], /--status: "permitted" is not one of prohibited, tracked/],
      [["report", STOLEN, ...DUAL, ...as("police-gb"), "--case", "C", "--reason", "stolen"], /at most two IMEIs/],
      [["report", STOLEN.slice(0, 14) + String((Number(STOLEN[14]) + 1) % 10), ...as("police-gb"), "--case", "C", "--reason", "stolen"], /check digit/i],
      [["report", STOLEN, ...as("police-gb"), "--case", "C", "--reason", "stolen", "--occurred-at", "yesterday"], /--occurred-at: "yesterday" is not an ISO 8601 time/],
      [["report", STOLEN, ...as("customs-gb"), "--case", "C", "--reason", "stolen"], /--as customs-gb: not a police agency of the pilot \(it has: police-br, police-es, police-gb, police-jp, police-us\)/],
      [["report", STOLEN, "--case", "C", "--reason", "stolen"], /--registry ADDR is required/],
      [["clear", STOLEN, ...as("police-gb")], /--reason is required: recovered, returned, reported-in-error, resolved/],
      [["clear", STOLEN, ...as("police-gb"), "--reason", "returned", "--country", "FR"], /--country FR: the pilot has no registry there/],
      [["clear", ...as("police-gb"), "--reason", "returned"], /give the IMEI/],
      [["found", STOLEN, ...as("police-es"), "--contact", "x", "--purpose", "P"], /--where is required/],
      [["found", STOLEN, ...as("police-es"), "--where", "x", "--contact", "y"], /--purpose is required/],
      [["sightings", ...as("police-gb"), "--after", "yesterday"], /--after: a sequence number/],
      [["sightings", ...as("police-gb"), "--follow", "--timeout", "1s"], /--timeout bounds a listing; it does not go with --follow/],
      [["sightings", ...as("police-gb"), "extra"], /Unexpected argument 'extra'/],
      [["sightings", ...as("police-gb"), "--colour"], /Unknown option '--colour'/],
    ];
    for (const [args, message] of cases) {
      const run = await imeifed(args);
      assert.equal(run.code, 64, `${args.join(" ")}: ${run.stderr}`);
      assert.match(run.stderr, message, args.join(" "));
      assert.match(run.stderr, new RegExp(`usage: imeifed ${args[0]}`), "the usage follows the message");
    }
  });

  it("documents each command: imeifed help COMMAND", async () => {
    const expected: Record<string, RegExp[]> = {
      report: [/--case REF/, /--reason REASON/, /--crime-ref/, /--occurred-at/, /dual-SIM/, /--demo DIR --as ID/, /--json/, /Exit status: 0 reported/],
      clear: [/--reason REASON +recovered, returned, reported-in-error or resolved/, /--case REF/, /Only the agency that reported it/, /Exit status: 0 cleared, 1 error/],
      found: [/--where PLACE/, /--contact HOW/, /--holder AGENCY/, /routes the report/, /--json/],
      sightings: [/--follow/, /--after SEQ/, /--timeout/, /--json/, /lookup-hit, screening-hit, found/],
    };
    for (const [name, patterns] of Object.entries(expected)) {
      const run = await imeifed(["help", name]);
      assert.equal(run.code, 0);
      assert.match(run.stdout, new RegExp(`^usage: imeifed ${name} `));
      for (const p of patterns) assert.match(run.stdout, p, `${name}: ${p}`);
    }
    const all = await imeifed(["help"]);
    for (const name of Object.keys(expected)) assert.match(all.stdout, new RegExp(`^  ${name} +\\S`, "m"));
  });
});
