/** Command-line flags through node's util.parseArgs, with mistakes turned into UsageErrors. */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { UsageError } from "./command.js";

export function parseFlags<const O extends NonNullable<ParseArgsConfig["options"]>>(argv: string[], options: O, allowPositionals = true) {
  try {
    return parseArgs({ args: argv, options, allowPositionals, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}

/** A flag the command cannot run without. */
export function required<T>(value: T | undefined, flag: string): T {
  if (value === undefined || value === "") throw new UsageError(`--${flag} is required`);
  return value;
}

/** Parses "30s", "5m", "1h", "2d" or plain seconds into milliseconds. */
export function parseDurationMs(text: string, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/.exec(text.trim());
  if (!match) throw new UsageError(`--${flag}: ${JSON.stringify(text)} is not a duration like 30s, 15m, 1h or 2d`);
  const unit = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(match[2] ?? "s") as "s"];
  return Number(match[1]) * unit;
}
