/**
 * `imeifed console --config console.yaml`: the web console for police,
 * customs and registry staff (console/), run by an agency with its own key.
 */
import { readConsoleConfig } from "../../console/server/console-config.js";
import { startConsole } from "../../console/server/console-server.js";
import { parseFlags, required } from "../args.js";
import { EXIT_OK, type Command } from "../command.js";

const USAGE = `usage: imeifed console --config console.yaml

Serves the console: a web page for looking up devices and screening shipments,
acting as the agency the config names (it mints the agency's tokens; no key or
token reaches the browser). The config (JSON or YAML):

  listen: 127.0.0.1:8080            # loopback only: there is no sign-in yet
  gateway: { address: 127.0.0.1:50051, id: gateway, tls: { ca: ca.pem } }
  principals:
    - { id: customs-gb, kind: customs, country: GB, name: Border Force, key: customs-gb.private.jwk.json }

Stops on Ctrl-C.`;

export const command: Command = {
  summary: "serve the web console (lookup, screening) for an agency",
  usage: USAGE,
  async run(argv) {
    const { values } = parseFlags(argv, { config: { type: "string" } });
    const config = await readConsoleConfig(required(values.config, "config"));
    const running = await startConsole(config);
    console.log(`console serving on ${running.url}`);
    await new Promise<void>((resolve) => {
      process.once("SIGINT", resolve);
      process.once("SIGTERM", resolve);
    });
    await running.close();
    return EXIT_OK;
  },
};
