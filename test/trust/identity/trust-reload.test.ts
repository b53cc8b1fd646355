import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { RegistryService } from "../../../gen/imeifed/v1/registry_pb.js";
import { Code, ImeifedError } from "../../../errors/index.js";
import { createClient } from "../../../rpc/index.js";
import { createTestTrust, type TestTrust } from "../../support/trust-fixture.js";
import { spawnRegistryProcess, type RegistryProcess } from "../../support/registry-fixture.js";

describe("trust file reload on SIGHUP (a running registry process)", function () {
  this.timeout(60_000);
  let fixture: TestTrust;
  let dir: string;
  let registry: RegistryProcess;

  before(async () => {
    fixture = await createTestTrust();
    dir = await mkdtemp(join(tmpdir(), "imeifed-reload-"));
  });
  after(async () => {
    await registry?.kill();
    await rm(dir, { recursive: true, force: true });
    await fixture.cleanup();
  });

  it("admits a partner added to the trust file, and drops one removed, without a restart", async () => {
    const full = JSON.parse(await readFile(fixture.trustFile, "utf8")) as { principals: Array<{ id: string }> };
    const without = { principals: full.principals.filter((p) => p.id !== "police-es") };
    // Beside the fixture's trust file: the JWKS files it names are relative to it.
    const trustFile = join(fixture.dir, "trust-reload.json");
    await writeFile(trustFile, JSON.stringify(without));
    registry = await spawnRegistryProcess({ country: "GB", trust: { ...fixture, trustFile }, db: { sqlite: join(dir, "gb.sqlite") } });
    const token = await fixture.token("police-es", { audience: "registry-gb", scopes: ["devices:check"] });
    const client = createClient(RegistryService, registry.address, { metadata: () => ({ authorization: `Bearer ${token}` }) });
    const check = () => client.checkDevice({ imei: "490154203237518", purpose: "reload test" });
    try {
      await assert.rejects(check(), (e: ImeifedError) => e.code === Code.UNAUTHENTICATED);

      await writeFile(trustFile, JSON.stringify(full));
      registry.child.kill("SIGHUP");
      let admitted = false;
      for (let i = 0; i < 100 && !admitted; i++) {
        admitted = await check().then(() => true, () => false);
        if (!admitted) await sleep(50);
      }
      assert.ok(admitted, `police-es still refused after SIGHUP:\n${registry.stderr()}`);

      // The verified token is remembered; a reload that removes its principal must forget it.
      await writeFile(trustFile, JSON.stringify(without));
      registry.child.kill("SIGHUP");
      let refused = false;
      for (let i = 0; i < 100 && !refused; i++) {
        refused = await check().then(() => false, (e: ImeifedError) => e.code === Code.UNAUTHENTICATED);
        if (!refused) await sleep(50);
      }
      assert.ok(refused, "police-es still admitted after its removal and SIGHUP");
    } finally {
      client.close();
    }
  });
});
