/**
 * `imeifed gateway serve` as a child process, in front of registries that
 * are already running: the config file is written to a temp dir (removed by
 * `stop()` / `kill()`), with the trust fixture's trust file and gateway key.
 */
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { GatewayConfigInput } from "../../gateway/config.js";
import { spawnServerProcess, type ServerProcess } from "./server-process.js";
import type { TestTrust } from "./trust-fixture.js";

export interface GatewayProcessOptions {
  trust: TestTrust;
  /** The registries it federates (their principal id defaults to `registry-<country>`). */
  registries: { country: string; address: string; id?: string }[];
  /** More config fields (connections, auth, deadlines, ...). */
  config?: Partial<GatewayConfigInput>;
}

/** Starts the gateway (principal `gateway`) on a free loopback port and waits until it serves. */
export async function spawnGatewayProcess(options: GatewayProcessOptions): Promise<ServerProcess> {
  const dir = await mkdtemp(join(tmpdir(), "imeifed-gateway-"));
  const removeDir = () => rm(dir, { recursive: true, force: true });
  try {
    const configFile = join(dir, "gateway.json");
    const config: GatewayConfigInput = {
      id: "gateway",
      listen: "127.0.0.1:0",
      trustFile: options.trust.trustFile,
      key: options.trust.privateKeyFile("gateway"),
      registries: options.registries.map((r) => ({ id: `registry-${r.country.toLowerCase()}`, ...r })),
      ...options.config,
    };
    await writeFile(configFile, JSON.stringify(config, null, 2));
    const gateway = await spawnServerProcess(["gateway", "serve", "--config", configFile], "gateway serving");
    void gateway.exited.then(removeDir);
    return gateway;
  } catch (error) {
    await removeDir();
    throw error;
  }
}
