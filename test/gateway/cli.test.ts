/**
 * The commands as a user runs them: `imeifed gateway serve` as a child
 * process in front of real sockets, and `imeifed lookup` against it.
 */
import assert from "node:assert/strict";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { createTestTrust, type TestTrust } from "../support/trust-fixture.js";
import { startToyRegistry, type ToyRegistry } from "./support/toy-registry.js";

const BIN = resolve(import.meta.dirname, "../../cli/bin.js");
const run = promisify(execFile);

async function imeifed(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], { timeout: 30_000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === "number" ? e.code : -1, stdout: e.stdout ?? "", stderr: e.stderr ?? "" };
  }
}

describe("imeifed gateway serve and imeifed lookup", function () {
  this.timeout(60_000);
  let trust: TestTrust;
  let dir: string;
  let gb: ToyRegistry;
  let es: ToyRegistry;
  let child: ChildProcess | undefined;
  let address: string;
  let tokenFile: string;
  const stolen = "35693803500001";

  before(async () => {
    trust = await createTestTrust();
    dir = await mkdtemp(join(tmpdir(), "imeifed-gw-cli-"));
    gb = await startToyRegistry({ country: "GB", trust });
    es = await startToyRegistry({ country: "ES", trust });
    gb.list(stolen);
    const config = join(dir, "federation.yaml");
    await writeFile(
      config,
      [
        "id: gateway",
        "listen: 127.0.0.1:0",
        `trustFile: ${trust.trustFile}`,
        `key: ${trust.privateKeyFile("gateway")}`,
        "registries:",
        `  - { country: GB, id: registry-gb, address: "${gb.address}" }`,
        `  - { country: ES, id: registry-es, address: "${es.address}" }`,
      ].join("\n"),
    );
    child = spawn(process.execPath, [BIN, "gateway", "serve", "--config", config], { stdio: ["ignore", "pipe", "pipe"] });
    const lines = createInterface({ input: child.stdout! });
    const [line] = (await Promise.race([once(lines, "line"), once(child, "exit").then(() => assert.fail("gateway exited before serving"))])) as [string];
    const serving = JSON.parse(line) as { msg: string; address: string };
    assert.equal(serving.msg, "gateway serving");
    address = serving.address;
    tokenFile = join(dir, "police-es.token");
    await writeFile(tokenFile, await trust.token("police-es", { audience: "gateway", ttlSec: 600 }));
    await writeFile(join(dir, "demo.json"), JSON.stringify({ gateway: address, tokens: { "police-es": "police-es.token" } }));
  });

  after(async () => {
    if (child && child.exitCode === null) {
      child.kill("SIGKILL");
      await once(child, "exit");
    }
    await gb?.shutdown();
    await es?.shutdown();
    await trust?.cleanup();
    await rm(dir, { recursive: true, force: true });
  });

  it("prints the federated answer as a table", async () => {
    const { code, stdout } = await imeifed(["lookup", stolen, "--gateway", address, "--token", tokenFile, "--purpose", "case ES-1"]);
    assert.equal(code, 0);
    assert.match(stdout, /^Verdict\s+PROHIBITED$/m);
    assert.match(stdout, /^\s+GB\s+PROHIBITED\s+STOLEN\s/m);
    assert.ok(!stdout.includes(stolen), "the IMEI is masked on screen");
  });

  it("prints JSON with --json, and reads the gateway and token from a demo with --demo --as", async () => {
    const { code, stdout } = await imeifed(["lookup", stolen, "--demo", dir, "--as", "police-es", "--json", "--countries", "es", "--purpose", "case ES-2"]);
    assert.equal(code, 0);
    const answer = JSON.parse(stdout) as { verdict: string; unanswered?: unknown[] };
    assert.equal(answer.verdict, "VERDICT_PERMITTED", "only ES was asked");
  });

  it("refuses bad input with a message and a usage status", async () => {
    const bad = await imeifed(["lookup", "490154203237519", "--gateway", address, "--token", tokenFile, "--purpose", "case ES-3"]);
    assert.equal(bad.code, 64);
    assert.match(bad.stderr, /Luhn/);
    const noPurpose = await imeifed(["lookup", stolen, "--gateway", address, "--token", tokenFile]);
    assert.equal(noPurpose.code, 64);
    assert.match(noPurpose.stderr, /--purpose is required/);
    const unknownPrincipal = await imeifed(["lookup", stolen, "--demo", dir, "--as", "nobody", "--purpose", "case ES-4"]);
    assert.equal(unknownPrincipal.code, 64);
    assert.match(unknownPrincipal.stderr, /no token for that principal \(it has: police-es\)/);
  });

  it("fails at start with a message naming the bad config field", async () => {
    const config = join(dir, "bad.json");
    await writeFile(config, JSON.stringify({ id: "gateway", listen: "127.0.0.1:0", trustFile: trust.trustFile, key: "k", registries: [{ country: "GBR", id: "x", address: "127.0.0.1:1" }] }));
    const { code, stderr } = await imeifed(["gateway", "serve", "--config", config]);
    assert.equal(code, 1);
    assert.match(stderr, /registries\[0\]\.country: must be an ISO 3166-1 alpha-2 code/);
  });

  it("stops cleanly on SIGTERM with exit status 0", async () => {
    const exited = once(child!, "exit");
    child!.kill("SIGTERM");
    const [code] = (await exited) as [number | null];
    assert.equal(code, 0);
  });
});
