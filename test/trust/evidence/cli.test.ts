import assert from "node:assert/strict";
import { execFile, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { AttestationSigner } from "../../../trust/attestation.js";
import { generatePrincipalKeys } from "../../../trust/keys.js";
import { AUDIT_STORES, PG_URL, sampleEntry, type AuditStorePlace } from "./audit-stores.js";

const BIN = fileURLToPath(new URL("../../../cli/bin.js", import.meta.url));

/** Runs the real `imeifed` command in a child process, optionally feeding stdin. */
function imeifed(args: string[], stdin?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  if (stdin === undefined) {
    return new Promise((resolve) => {
      execFile(process.execPath, [BIN, ...args], { timeout: 30_000 }, (error, stdout, stderr) => {
        resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
      });
    });
  }
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args]);
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (c) => (stdout += c));
    child.stderr.on("data", (c) => (stderr += c));
    child.on("error", reject);
    child.on("exit", (code) => resolve({ code: code ?? 1, stdout, stderr }));
    child.stdin.end(stdin);
  });
}

describe("imeifed attestation verify (child processes)", function () {
  this.timeout(60_000);
  let dir: string;
  let jwksFile: string;
  let token: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "imeifed-cli-att-"));
    const keys = await generatePrincipalKeys("registry-gb", "EdDSA");
    const signer = await AttestationSigner.create({ issuer: "registry-gb", privateJwk: keys.privateJwk });
    jwksFile = join(dir, "registry-gb.jwks.json");
    await writeFile(jwksFile, JSON.stringify(signer.publicJwks()));
    token = await signer.sign({ device_key: "35693803564380", status: "PROHIBITED", reason: "STOLEN", verified: true, reported_at: "2025-03-01T10:15:00.000Z", registry: "GB" });
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("prints the verified claims as JSON and exits 0", async () => {
    const { code, stdout, stderr } = await imeifed(["attestation", "verify", "--jwks", jwksFile, token]);
    assert.equal(code, 0, stderr);
    const claims = JSON.parse(stdout);
    assert.equal(claims.device_key, "35693803564380");
    assert.equal(claims.status, "PROHIBITED");
    assert.equal(claims.iss, "registry-gb");
  });

  it("reads the token from stdin with -", async () => {
    const { code, stdout } = await imeifed(["attestation", "verify", "--jwks", jwksFile, "--iss", "registry-gb", "-"], `${token}\n`);
    assert.equal(code, 0);
    assert.equal(JSON.parse(stdout).registry, "GB");
  });

  it("exits 2 with a precise message for a tampered attestation or another issuer", async () => {
    const [h, p, s] = token.split(".") as [string, string, string];
    const claims = JSON.parse(Buffer.from(p, "base64url").toString());
    const tampered = `${h}.${Buffer.from(JSON.stringify({ ...claims, status: "PERMITTED" })).toString("base64url")}.${s}`;
    const bad = await imeifed(["attestation", "verify", "--jwks", jwksFile, tampered]);
    assert.equal(bad.code, 2);
    assert.equal(bad.stdout, "");
    assert.match(bad.stderr, /attestation rejected: the signature does not match/);
    const other = await imeifed(["attestation", "verify", "--jwks", jwksFile, "--iss", "registry-fr", token]);
    assert.equal(other.code, 2);
    assert.match(other.stderr, /iss registry-gb is not the expected issuer registry-fr/);
  });

  it("exits 1 when the JWKS cannot be read, 64 on a usage error", async () => {
    const missing = await imeifed(["attestation", "verify", "--jwks", join(dir, "nope.json"), token]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /cannot read JWKS file .*nope\.json/);
    const usage = await imeifed(["attestation", "verify", "--jwks", jwksFile]);
    assert.equal(usage.code, 64);
    assert.match(usage.stderr, /give the attestation TOKEN/);
  });
});

for (const kind of AUDIT_STORES) {
  describe(`imeifed audit verify on ${kind.name} (child processes)`, function () {
    this.timeout(60_000);
    let place: AuditStorePlace;
    const where = () => (kind.name === "sqlite" ? ["--db", place.location] : ["--postgres", PG_URL, "--schema", place.location]);

    beforeEach(async () => {
      place = await kind.create();
      const log = await place.open();
      for (let i = 1; i <= 10; i++) log.append(sampleEntry(i));
      await log.close();
    });
    afterEach(() => place.destroy());

    it("prints how many entries verified and the head, then catches what the head anchors", async () => {
      const ok = await imeifed(["audit", "verify", ...where()]);
      assert.equal(ok.code, 0, ok.stderr);
      const match = /^verified 10 entries; head (10:[0-9a-f]{64})$/m.exec(ok.stdout);
      assert.ok(match, ok.stdout);
      await place.tamper.exec("DELETE FROM audit_log WHERE seq = 10");
      const cut = await imeifed(["audit", "verify", ...where(), "--anchor", match[1]!]);
      assert.equal(cut.code, 2);
      assert.match(cut.stderr, /chain broken: removed at seq 10: the log ends at seq 9 but seq 10 was anchored/);
    });

    it("exits 2 naming the first bad entry", async () => {
      await place.tamper.exec("UPDATE audit_log SET purpose = 'nothing to see' WHERE seq = 6");
      const { code, stdout, stderr } = await imeifed(["audit", "verify", ...where()]);
      assert.equal(code, 2);
      assert.equal(stdout, "");
      assert.match(stderr, /chain broken: changed at seq 6: its content no longer matches its hash \(5 entries verified before it\)/);
    });
  });
}

describe("imeifed audit verify mistakes", function () {
  this.timeout(30_000);
  it("exits 1 for a missing database file and 64 for a usage error", async () => {
    const missing = await imeifed(["audit", "verify", "--db", join(tmpdir(), "imeifed-no-such-audit.sqlite")]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /cannot open audit database/);
    const usage = await imeifed(["audit", "verify"]);
    assert.equal(usage.code, 64);
    assert.match(usage.stderr, /give either --db FILE or --postgres URL/);
    const anchor = await imeifed(["audit", "verify", "--db", "x.sqlite", "--anchor", "ten"]);
    assert.equal(anchor.code, 64);
    assert.match(anchor.stderr, /--anchor: "ten" is not SEQ:HASH/);
  });
});
