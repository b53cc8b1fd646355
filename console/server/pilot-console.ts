/**
 * The console of the pilot (`npm start`): pilot mode, acting as any of the
 * demo's police and customs principals (customs first, since it can both look
 * up and screen, so the first page works before anyone chooses).
 */
import { join } from "node:path";
import { DEMO_PRINCIPALS } from "../../demo/demo-principals.js";
import { keyFileNames } from "../../trust/keys.js";
import { consoleConfigFrom, type ConsoleConfigInput } from "./console-config.js";
import { startConsole, type RunningConsole } from "./console-server.js";

export async function startPilotConsole(options: { dir: string; gateway: string; registries: Readonly<Record<string, string>>; listen: string }): Promise<RunningConsole> {
  const people = DEMO_PRINCIPALS.filter((p) => p.kind === "customs" || p.kind === "police").sort((a, b) => (a.kind === b.kind ? 0 : a.kind === "customs" ? -1 : 1));
  const input: ConsoleConfigInput = {
    listen: options.listen,
    pilot: true,
    gateway: { address: options.gateway, id: "gateway" },
    principals: [
      ...people.map((p) => ({ id: p.id, name: p.name, kind: p.kind, country: p.country, key: join("keys", keyFileNames(p.id).privateJwk), scopes: [...p.scopes],
      ...(p.kind === "police" && options.registries[p.country] ? { homeRegistry: { address: options.registries[p.country]!, id: `registry-${p.country.toLowerCase()}` } } : {}),
    })),
      // The Spanish registry's administrator: its audit page reads the registry's own audit (in its SQLite file).
      { id: "registry-es", name: "Registro ES (pilot administrator)", kind: "registry", country: "ES", key: join("keys", keyFileNames("registry-es").privateJwk), audit: { sqlite: join("data", "es.sqlite") } },
    ],
  };
  const config = await consoleConfigFrom(input, options.dir, "pilot console");
  return startConsole(config, { log: () => {} });
}
