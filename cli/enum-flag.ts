/** A flag naming one value of a protobuf enum, written as people type it: `--reason reported-in-error`. */
import { UsageError } from "./command.js";

/**
 * The enum value `text` names among `allowed` (enum names such as
 * `REPORTED_IN_ERROR`); case and `-`/`_` do not matter. A missing or other
 * value is a usage error listing the choices.
 */
export function enumFlag(values: Readonly<Record<string, string | number>>, text: string | undefined, flag: string, allowed: readonly string[]): number {
  const choices = allowed.map((n) => n.toLowerCase().replace(/_/g, "-")).join(", ");
  if (text === undefined || text.trim() === "") throw new UsageError(`--${flag} is required: ${choices}`);
  const name = text.trim().toUpperCase().replace(/-/g, "_");
  const value = values[name];
  if (!allowed.includes(name) || typeof value !== "number") throw new UsageError(`--${flag}: ${JSON.stringify(text)} is not one of ${choices}`);
  return value;
}

/** The flag-style name of an enum value (`REPORTED_IN_ERROR` -> `reported-in-error`), for output. */
export function enumText(values: Readonly<Record<number, string>>, value: number): string {
  return (values[value] ?? "unspecified").toLowerCase().replace(/_/g, "-");
}
