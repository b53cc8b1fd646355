import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { decodeJwt } from "jose";
import { TokenVerifier } from "../../../trust/token-verifier.js";
import { TrustStore } from "../../../trust/trust-store.js";

const BIN = fileURLToPath(new URL("../../../cli/bin.js", import.meta.url));

/** Runs the real `imeifed` command in a child process. */
function imeifed(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe("imeifed keys generate / imeifed token (child processes)", function () {
  this.timeout(60_000);
  let dir: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "imeifed-cli-keys-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it("generates a key pair, mints a token with it, and a server trusting the JWKS admits the token", async () => {
    const generated = await imeifed(["keys", "generate", "--id", "gateway", "--out", dir, "--alg", "EdDSA"]);
    assert.equal(generated.code, 0, generated.stderr);
    assert.match(generated.stdout, /kid gateway-\S+ \(EdDSA\)/);
    assert.equal((await stat(join(dir, "gateway.private.jwk.json"))).mode & 0o777, 0o600);
    const jwks = JSON.parse(await readFile(join(dir, "gateway.jwks.json"), "utf8")) as { keys: Record<string, unknown>[] };
    assert.equal(jwks.keys.length, 1);
    assert.equal(jwks.keys[0]!.d, undefined, "the JWKS must not hold the private key");

    const minted = await imeifed([
      "token", "--key", join(dir, "gateway.private.jwk.json"), "--iss", "gateway", "--aud", "registry-es",
      "--scope", "devices:check devices:found", "--ttl", "10m", "--act-sub", "customs-gb", "--act-kind", "customs", "--act-country", "GB",
    ]);
    assert.equal(minted.code, 0, minted.stderr);
    const token = minted.stdout.trim();
    const claims = decodeJwt(token);
    assert.equal(claims.exp! - claims.iat!, 600);

    await writeFile(
      join(dir, "trust.json"),
      JSON.stringify({ principals: [{ id: "gateway", country: "ZZ", kind: "gateway", scopes: ["devices:check", "devices:found"], keys: { jwksFile: "gateway.jwks.json" } }] }),
    );
    const caller = await new TokenVerifier({ trust: await TrustStore.load(join(dir, "trust.json")), audience: "registry-es" }).verify(token);
    assert.equal(caller.principal.id, "gateway");
    assert.deepEqual(caller.actor, { id: "customs-gb", kind: "customs", country: "GB" });
    assert.deepEqual([...caller.scopes].sort(), ["devices:check", "devices:found"]);
  });

  it("refuses to overwrite a key, and with --rotate keeps the old public key next to the new one", async () => {
    const again = await imeifed(["keys", "generate", "--id", "gateway", "--out", dir]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already exists; pass --rotate/);

    const rotated = await imeifed(["keys", "generate", "--id", "gateway", "--out", dir, "--rotate"]);
    assert.equal(rotated.code, 0, rotated.stderr);
    const jwks = JSON.parse(await readFile(join(dir, "gateway.jwks.json"), "utf8")) as { keys: { kid: string; alg: string }[] };
    assert.deepEqual(jwks.keys.map((k) => k.alg), ["EdDSA", "ES256"]);
    const files = await readdir(dir);
    assert.ok(files.includes(`gateway.private.${jwks.keys[0]!.kid}.jwk.json`), `old private key kept aside: ${files.join(", ")}`);
  });

  it("explains usage mistakes with exit status 64", async () => {
    const cases: [string[], RegExp][] = [
      [["keys", "generate"], /--id is required/],
      [["keys", "generate", "--id", "police-es", "--alg", "HS256"], /--alg: "HS256" is not supported/],
      [["token", "--key", join(dir, "gateway.private.jwk.json"), "--iss", "gateway", "--aud", "registry-es", "--scope", "devices:everything"], /devices:everything is not a scope/],
      [["token", "--key", join(dir, "gateway.private.jwk.json"), "--iss", "gateway", "--aud", "registry-es", "--scope", "devices:check", "--ttl", "2h"], /--ttl: between 1s and 1h/],
      [["token", "--key", join(dir, "gateway.private.jwk.json"), "--iss", "gateway", "--aud", "registry-es", "--scope", "devices:check", "--act-sub", "x"], /go together/],
    ];
    for (const [args, message] of cases) {
      const result = await imeifed(args);
      assert.equal(result.code, 64, `${args.join(" ")}: ${result.stderr}`);
      assert.match(result.stderr, message);
    }
  });

  it("refuses to sign with a public JWKS file", async () => {
    const result = await imeifed(["token", "--key", join(dir, "gateway.jwks.json"), "--iss", "gateway", "--aud", "registry-es", "--scope", "devices:check"]);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /is not a private JWK/);
  });
});
