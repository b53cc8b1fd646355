/**
 * `imeifed <command> [flags]`: the table of commands. Each command lives in
 * cli/commands/ and is loaded only when used, so `imeifed token` does not load
 * the gateway.
 */
import { EXIT_ERROR, EXIT_USAGE, UsageError, type Command } from "./command.js";
import { ImeifedError } from "../errors/index.js";

const COMMANDS: Readonly<Record<string, () => Promise<{ command: Command }>>> = {
  // Add a command here when its file exists in cli/commands/.
  "gateway serve": () => import("./commands/gateway-serve.js"),
  lookup: () => import("./commands/lookup.js"),
  "keys generate": () => import("./commands/keys-generate.js"),
  token: () => import("./commands/token.js"),
  screen: () => import("./commands/screen.js"),
  report: () => import("./commands/report.js"),
  clear: () => import("./commands/clear.js"),
  found: () => import("./commands/found.js"),
  sightings: () => import("./commands/sightings.js"),
  "attestation verify": () => import("./commands/attestation-verify.js"),
  "audit verify": () => import("./commands/audit-verify.js"),
  "oem watch": () => import("./commands/oem-watch.js"),
  "registry serve": () => import("./commands/registry-serve.js"),
  "registry import": () => import("./commands/registry-import.js"),
  demo: () => import("./commands/demo.js"),
  console: () => import("./commands/console.js"),
};

function resolve(argv: string[]): { name: string; rest: string[] } | undefined {
  const two = argv.slice(0, 2).join(" ");
  if (COMMANDS[two]) return { name: two, rest: argv.slice(2) };
  const one = argv[0] ?? "";
  if (COMMANDS[one]) return { name: one, rest: argv.slice(1) };
  return undefined;
}

async function help(name?: string): Promise<number> {
  if (name && COMMANDS[name]) {
    const { command } = await COMMANDS[name]!();
    console.log(command.usage);
    return 0;
  }
  const lines = ["usage: imeifed <command> [flags]", "", "commands:"];
  for (const [key, load] of Object.entries(COMMANDS)) {
    const summary = await load().then(({ command }) => command.summary, () => "(not available)");
    lines.push(`  ${key.padEnd(20)} ${summary}`);
  }
  lines.push("", "imeifed help COMMAND shows a command's flags.");
  console.log(lines.join("\n"));
  return 0;
}

export async function main(argv: string[]): Promise<number> {
  if (argv.length === 0 || argv[0] === "help" || argv[0] === "--help" || argv[0] === "-h") return help(argv.slice(1).join(" "));
  const found = resolve(argv);
  if (!found) {
    console.error(`imeifed: unknown command ${JSON.stringify(argv.slice(0, 2).join(" "))}; run imeifed help`);
    return EXIT_USAGE;
  }
  const { command } = await COMMANDS[found.name]!();
  try {
    return await command.run(found.rest);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`imeifed ${found.name}: ${error.message}\n\n${command.usage}`);
      return EXIT_USAGE;
    }
    if (error instanceof ImeifedError) {
      console.error(`imeifed ${found.name}: ${error.message}`);
      return EXIT_ERROR;
    }
    console.error(`imeifed ${found.name}: ${(error as Error)?.stack ?? String(error)}`);
    return EXIT_ERROR;
  }
}
