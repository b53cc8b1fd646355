/** One `imeifed` subcommand: its usage line and what it does. */
export interface Command {
  /** One line shown by `imeifed help`. */
  readonly summary: string;
  /** Full usage, shown by `imeifed help NAME` and on a usage error. */
  readonly usage: string;
  /** Runs the command; resolves to the process exit status. */
  run(argv: string[]): Promise<number>;
}

/** Exit statuses shared by every command (screening adds its own, see cli/commands/screen.ts). */
export const EXIT_OK = 0;
export const EXIT_ERROR = 1;
export const EXIT_USAGE = 64;

/** A mistake in the command line: printed with the command's usage, exit 64. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}
