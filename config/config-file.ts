/**
 * Reading and validating a configuration file, shared by every imeifed
 * process: a config is JSON or YAML (YAML is a superset of JSON, so one parser
 * reads both), validated once at start by a zod schema, and a wrong one stops
 * the process with INVALID_ARGUMENT naming the first bad field.
 */
import { readFile } from "node:fs/promises";
import { isAbsolute, resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import type { z } from "zod";
import { Code, ImeifedError } from "../errors/index.js";

/** `registries[2].address` for zod's `["registries", 2, "address"]`. */
export function fieldPath(path: ReadonlyArray<string | number>): string {
  return path.reduce<string>((out, p) => (typeof p === "number" ? `${out}[${p}]` : out ? `${out}.${p}` : p), "");
}

/** Validates `input` with `schema`, or throws BAD_CONFIG listing every issue by field, prefixed with `source`. */
export function validateConfig<S extends z.ZodTypeAny>(schema: S, input: unknown, source: string): z.output<S> {
  const parsed = schema.safeParse(input);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((i) => `${fieldPath(i.path) || "(root)"}: ${i.message}`);
  throw new ImeifedError(Code.INVALID_ARGUMENT, "BAD_CONFIG", `${source}: ${issues.join("; ")}`, {
    field: fieldPath(parsed.error.issues[0]?.path ?? []),
  });
}

/** Reads a JSON or YAML file into a plain value; `what` names it in errors ("gateway config"). */
export async function readConfigFile(path: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new ImeifedError(Code.INVALID_ARGUMENT, "BAD_CONFIG", `cannot read ${what} ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  try {
    return parseYaml(text);
  } catch (error) {
    throw new ImeifedError(Code.INVALID_ARGUMENT, "BAD_CONFIG", `${path} is neither JSON nor YAML: ${(error as Error).message}`);
  }
}

/** Resolves a path from a config file against the file's directory. */
export function resolverFrom(baseDir: string): (path: string) => string {
  return (path) => (isAbsolute(path) ? path : resolve(baseDir, path));
}
