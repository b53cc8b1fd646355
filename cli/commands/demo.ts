/**
 * `imeifed demo` (also `npm start`): the pilot federation on one machine.
 */
import { once } from "node:events";
import { resolve } from "node:path";
import { nextSteps, startDemo } from "../../demo/run-demo.js";
import { parseFlags } from "../args.js";
import { EXIT_OK, UsageError, type Command } from "../command.js";

const USAGE = `usage: imeifed demo [--dir DIR] [--records N] [--gateway HOST:PORT] [--eir HOST:PORT] [--s13 HOST:PORT] [--registry-port-base PORT|auto] [--console HOST:PORT] [--verbose]

Starts the pilot federation: registries for JP, BR, ES, US and GB (SQLite, each its own
process) and a gateway, with keys, a trust file and tokens for police-gb, police-jp,
police-br, police-es, police-us, customs-gb, oem-demo, operator-hk (a Hong Kong
mobile network asking through the gateway's N5g-eir front) and operator-dz (an
Algerian 4G network whose MME asks the gateway's S13 EIR). Ctrl-C stops everything.

  --dir DIR                   where keys, data, configs, tokens and demo.json go (default .imeifed-demo)
  --records N                 synthetic records per registry on the first run (default 100000)
  --gateway HOST:PORT         the gateway's address (default 127.0.0.1:50051)
  --eir HOST:PORT             the gateway's N5g-eir front, h2c and HTTP/1.1 (default 127.0.0.1:8090)
  --s13 HOST:PORT             the gateway's Diameter S13 EIR, for operator-dz's MME (default 127.0.0.1:3868)
  --registry-port-base PORT   registries listen on PORT..PORT+4 (default 50061); auto picks free ports
  --console HOST:PORT         the web console's address (default 127.0.0.1:8080; loopback only)
  --verbose                   pass the processes' log lines through`;

export const command: Command = {
  summary: "run the pilot federation (five registries and a gateway) on this machine",
  usage: USAGE,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, {
      dir: { type: "string" },
      records: { type: "string" },
      gateway: { type: "string" },
      eir: { type: "string" },
      s13: { type: "string" },
      "registry-port-base": { type: "string" },
      verbose: { type: "boolean" },
      console: { type: "string" },
    });
    if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
    const records = values.records === undefined ? 100_000 : Number(values.records);
    if (!Number.isInteger(records) || records < 10 || records > 2_000_000) throw new UsageError("--records must be a whole number from 10 to 2000000");
    const base = values["registry-port-base"] ?? "50061";
    if (base !== "auto" && !/^\d+$/.test(base)) throw new UsageError("--registry-port-base must be a port number or auto");
    const dir = resolve(values.dir ?? ".imeifed-demo");
    const demo = await startDemo({
      dir,
      records,
      gatewayListen: values.gateway ?? "127.0.0.1:50051",
      eirListen: values.eir ?? "127.0.0.1:8090",
      s13Listen: values.s13 ?? "127.0.0.1:3868",
      registryPortBase: base === "auto" ? "auto" : Number(base),
      ...(values.console ? { consoleListen: values.console } : {}),
      ...(values.verbose ? { logLine: (name: string, line: string) => console.error(`[${name}] ${line}`) } : {}),
    });
    console.log(nextSteps(demo, dir));
    const signal = await Promise.race([once(process, "SIGINT").then(() => "SIGINT"), once(process, "SIGTERM").then(() => "SIGTERM")]);
    console.log(`imeifed pilot: ${signal}, stopping every process...`);
    await demo.stop();
    console.log("imeifed pilot: stopped");
    return EXIT_OK;
  },
};
