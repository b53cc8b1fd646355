/**
 * Where a client command connects and with which token: `--gateway ADDR
 * --token FILE`, or `--demo DIR --as PRINCIPAL`, which reads the pilot's
 * `DIR/demo.json` for the gateway address and that principal's token file.
 * Every client command (lookup, screen, oem watch) resolves it here, so they
 * read the demo alike.
 */
import { readFile } from "node:fs/promises";
import { isAbsolute, join, resolve } from "node:path";
import { Code, ImeifedError } from "../errors/index.js";
import { UsageError } from "./command.js";

/** A gateway address and the file holding the bearer token to present. */
export interface ClientTarget {
  address: string;
  tokenFile: string;
}

/** The part of demo.json a client needs (the demo writes more). */
interface DemoFile {
  gateway?: unknown;
  tokens?: Record<string, unknown>;
}

/** The flags that pick a gateway target. */
export const GATEWAY_TARGET_FLAGS = {
  gateway: { type: "string" },
  token: { type: "string" },
  demo: { type: "string" },
  as: { type: "string" },
} as const;

/** Reads a pilot's `DIR/demo.json` as JSON, refusing a missing or unreadable one with what to do. */
export async function readDemoFile(dir: string): Promise<{ demo: Record<string, unknown>; path: string }> {
  const path = join(dir, "demo.json");
  try {
    return { demo: JSON.parse(await readFile(path, "utf8")) as Record<string, unknown>, path };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new ImeifedError(
      Code.FAILED_PRECONDITION,
      "DEMO_NOT_FOUND",
      code === "ENOENT" ? `${path} does not exist; start the pilot first (npm start) or pass --demo with its directory` : `${path} is not readable JSON: ${(error as Error).message}`,
    );
  }
}

/** Reads `DIR/demo.json` and picks the gateway address and PRINCIPAL's token file. */
export async function resolveClientTarget(options: { demo: string; as: string }): Promise<ClientTarget> {
  const dir = resolve(options.demo);
  const { demo: read, path } = await readDemoFile(dir);
  const demo = read as DemoFile;
  if (typeof demo.gateway !== "string" || demo.gateway === "") {
    throw new ImeifedError(Code.FAILED_PRECONDITION, "DEMO_INVALID", `${path} names no gateway address`);
  }
  const tokenFile = demo.tokens?.[options.as];
  if (typeof tokenFile !== "string") {
    const known = Object.keys(demo.tokens ?? {}).sort().join(", ") || "none";
    throw new UsageError(`--as ${options.as}: the demo has no token for that principal (it has: ${known})`);
  }
  return { address: demo.gateway, tokenFile: isAbsolute(tokenFile) ? tokenFile : join(dir, tokenFile) };
}

/** Resolves the target from a command's flags: either --gateway and --token, or --demo and --as. */
export async function clientTargetFromFlags(values: { gateway?: string | undefined; token?: string | undefined; demo?: string | undefined; as?: string | undefined }): Promise<ClientTarget> {
  if (values.demo !== undefined) {
    if (values.gateway !== undefined || values.token !== undefined) throw new UsageError("give either --demo DIR --as ID, or --gateway ADDR --token FILE");
    if (!values.as) throw new UsageError("--as is required with --demo (the principal to act as, e.g. police-es)");
    return resolveClientTarget({ demo: values.demo, as: values.as });
  }
  if (!values.gateway) throw new UsageError("--gateway ADDR is required (or --demo DIR --as ID)");
  if (!values.token) throw new UsageError("--token FILE is required (or --demo DIR --as ID)");
  return { address: values.gateway, tokenFile: values.token };
}

/** Reads a bearer token file (a bare JWT, or "Bearer <jwt>"), refusing an unreadable or empty one with a message saying how to get one. */
export async function readTokenFile(file: string): Promise<string> {
  let text: string;
  try {
    text = (await readFile(file, "utf8")).trim();
  } catch (error) {
    throw new ImeifedError(Code.UNAUTHENTICATED, "TOKEN_UNREADABLE", `cannot read the token file ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
  }
  const token = text.replace(/^Bearer\s+/i, "");
  if (!token) throw new ImeifedError(Code.UNAUTHENTICATED, "TOKEN_EMPTY", `the token file ${file} is empty; mint one with imeifed token`);
  return token;
}
