/**
 * The pilot federation in one command: prepares the directory, starts five
 * registries and a gateway as their own processes, writes demo.json for
 * scripts, prints what to try next, and stops everything on Ctrl-C.
 */
import { existsSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join, relative, resolve } from "node:path";
import { DEMO_COUNTRIES, DEMO_S13, GATEWAY_ID, OEM_TAC_PREFIXES } from "./demo-principals.js";
import { DEMO_TOKEN_TTL_SEC, prepareFederation, type DemoAgency, type DemoSamples } from "./prepare-federation.js";
import { Supervisor } from "./supervisor.js";
import { startPilotConsole } from "../console/server/pilot-console.js";
import type { RunningConsole } from "../console/server/console-server.js";

export interface DemoOptions {
  /** Where everything is written (default `.imeifed-demo`). */
  dir: string;
  /** Synthetic records per registry, used on the first run only (default 100,000). */
  records: number;
  /** The gateway's address (default 127.0.0.1:50051). */
  gatewayListen: string;
  /** The N5g-eir front's address, where 5G cores ask (default 127.0.0.1:8090). */
  eirListen?: string;
  /** The S13 (Diameter) front's address (default 127.0.0.1:3868). */
  s13Listen?: string;
  /** Registry addresses: `auto` picks free ports, otherwise the first port of five in a row (default 50061). */
  registryPortBase: number | "auto";
  /** The pilot console's address (default 127.0.0.1:8080). */
  consoleListen?: string;
  /** Where progress goes (stdout by default). */
  say?: (line: string) => void;
  /** Passes each child's log lines on (quiet by default). */
  logLine?: (name: string, line: string) => void;
}

/** What `demo.json` holds: enough for a script to drive the pilot. */
export interface DemoManifest {
  gateway: string;
  /**
   * The fronts mobile networks ask through: `n5g`, the N5g-eir API root's base URL; `s13`, the Diameter
   * S13 EIR (networks/s13/): where it listens, its identity, and each operator's peer identity.
   */
  eir: {
    n5g: string;
    s13: { address: string; originHost: string; originRealm: string; peers: Record<string, { originHost: string; originRealm: string }> };
  };
  registries: Record<string, string>;
  tokens: Record<string, string>;
  /** Each police agency's home registry and key, by principal id (police-gb, ...). */
  agencies: Record<string, DemoAgency>;
  manufacturers: Record<string, string[]>;
  samples: DemoSamples;
  trustFile: string;
  registryJwks: string;
  tacFile: string;
  /** Process id of each pilot process, by name (registry-gb, ..., gateway). */
  processes: Record<string, number>;
  /** The web console, in pilot mode. */
  console: { url: string };
}

export interface RunningDemo {
  readonly manifest: DemoManifest;
  readonly manifestFile: string;
  stop(): Promise<void>;
}

export async function startDemo(options: DemoOptions): Promise<RunningDemo> {
  const say = options.say ?? ((line: string) => console.log(line));
  const dir = resolve(options.dir);
  const started = Date.now();
  const where = relative(process.cwd(), dir) || dir;
  say(
    existsSync(join(dir, "seed.json"))
      ? `imeifed pilot: reusing ${where} (its keys and data; tokens renewed)`
      : `imeifed pilot: preparing ${where} (keys, trust file, ${options.records.toLocaleString("en")} synthetic records per registry)`,
  );
  const prepared = await prepareFederation({ dir, records: options.records, gatewayAddress: options.gatewayListen });
  const supervisor = new Supervisor({ ...(options.logLine ? { logLine: options.logLine } : {}) });
  let pilotConsole: RunningConsole | undefined;
  try {
    const registries: Record<string, string> = {};
    await Promise.all(
      DEMO_COUNTRIES.map(async (country, i) => {
        const listen = options.registryPortBase === "auto" ? "127.0.0.1:0" : `127.0.0.1:${options.registryPortBase + i}`;
        const { serving } = await supervisor.start(`registry-${country.toLowerCase()}`, ["registry", "serve", "--config", prepared.registryConfigs[country], "--listen", listen]);
        registries[country] = serving.address;
      }),
    );
    const gatewayConfig = join(dir, "federation.json");
    await writeFile(
      gatewayConfig,
      `${JSON.stringify(
        {
          id: GATEWAY_ID,
          listen: options.gatewayListen,
          trustFile: "trust.json",
          key: relative(dir, prepared.gatewayKeyFile),
          // Pilot tokens last a day; production partners keep the 1-hour limit.
          auth: { maxTokenLifetimeSec: DEMO_TOKEN_TTL_SEC },
          registries: DEMO_COUNTRIES.map((country) => ({ country, address: registries[country], id: `registry-${country.toLowerCase()}` })),
          tacFile: "tac.csv",
          audit: { sqlite: "data/gateway-audit.sqlite" },
          // The pilot's five registries share one machine's cores with the gateway: its checks get 2 s, not a core network's 500 ms.
          networks: {
            n5gEir: { listen: options.eirListen ?? "127.0.0.1:8090", budgetMs: 2_000 },
            s13: {
              listen: options.s13Listen ?? "127.0.0.1:3868",
              originHost: DEMO_S13.originHost,
              originRealm: DEMO_S13.originRealm,
              peers: Object.entries(DEMO_S13.peers).map(([principal, peer]) => ({ ...peer, principal, from: ["127.0.0.1", "::1"] })),
              budgetMs: 2_000,
            },
          },
        },
        null,
        2,
      )}\n`,
    );
    const gateway = await supervisor.start("gateway", ["gateway", "serve", "--config", gatewayConfig]);
    pilotConsole = await startPilotConsole({ dir, gateway: gateway.serving.address, registries, listen: options.consoleListen ?? "127.0.0.1:8080" });
    const manifest: DemoManifest = {
      gateway: gateway.serving.address,
      eir: {
        n5g: String(gateway.serving.n5gEir),
        s13: { address: String(gateway.serving.s13), originHost: DEMO_S13.originHost, originRealm: DEMO_S13.originRealm, peers: { ...DEMO_S13.peers } },
      },
      registries,
      tokens: prepared.tokens,
      agencies: { ...prepared.agencies },
      manufacturers: { "oem-demo": [...OEM_TAC_PREFIXES] },
      samples: prepared.samples,
      trustFile: prepared.trustFile,
      registryJwks: prepared.registryJwksFile,
      tacFile: prepared.tacFile,
      processes: Object.fromEntries(supervisor.processes.map((p) => [p.name, p.serving.pid])),
      console: { url: pilotConsole.url },
    };
    const manifestFile = join(dir, "demo.json");
    await writeFile(manifestFile, `${JSON.stringify(manifest, null, 2)}\n`);
    const running = pilotConsole;
    const stop = async () => {
      await running.close();
      await supervisor.stopAll();
    };
    say(`imeifed pilot: up in ${((Date.now() - started) / 1000).toFixed(1)} s — gateway ${manifest.gateway}, N5g-eir ${manifest.eir.n5g}, S13 ${manifest.eir.s13.address}, registries ${Object.entries(registries).map(([c, a]) => `${c} ${a}`).join(", ")}`);
    return { manifest, manifestFile, stop };
  } catch (error) {
    await pilotConsole?.close();
    await supervisor.stopAll();
    throw error;
  }
}

/** What to try next, printed once the pilot is up. */
export function nextSteps(demo: RunningDemo, dir: string): string {
  const d = relative(process.cwd(), dir) || ".";
  const { samples } = demo.manifest;
  return [
    "",
    `Open the console in a browser: ${demo.manifest.console.url}`,
    "",
    "Try, in another terminal:",
    `  npx imeifed lookup ${samples.prohibited[0]} --demo ${d} --as police-es --purpose CASE-1      # stolen somewhere`,
    `  npx imeifed lookup ${samples.permitted[samples.permitted.length - 1]} --demo ${d} --as police-es --purpose CASE-1      # listed nowhere`,
    `  npx imeifed screen MANIFEST.csv --demo ${d} --as customs-gb --destination HK --declaration DEC-1  # a shipment (CSV or .xlsx; columns IMEI, Make, Model)`,
    `  npx imeifed report ${samples.permitted[samples.permitted.length - 1]} --demo ${d} --as police-gb --case GB-CASE-1 --reason stolen      # report a theft to GB's registry`,
    `  npx imeifed sightings --demo ${d} --as police-gb --follow      # where your stolen phones surface`,
    `  curl --http2-prior-knowledge -H "authorization: Bearer $(cat ${join(d, "tokens", "operator-hk.jwt")})" "${demo.manifest.eir.n5g}/n5g-eir-eic/v1/equipment-status?pei=imei-${samples.prohibited[0]}"  # a 5G core in Hong Kong asks`,
    `  npx imeifed oem watch --demo ${d} --as oem-demo --jwks ${join(d, "registry-keys.jwks.json")} --cursor-file ${join(d, "oem.cursor")}  # the stolen-mode feed`,
    "",
    `  S13 (Diameter): an MME configured as ${DEMO_S13.peers["operator-dz"].originHost} may ask ${demo.manifest.eir.s13.address} (ME-Identity-Check)`,
    "",
    `Scripts: ${join(d, "demo.json")} lists the addresses, token files and sample IMEIs.`,
    "Ctrl-C stops every process.",
  ].join("\n");
}
