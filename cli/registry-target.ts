/**
 * Where a police command (report, clear, sightings) connects and with which
 * token: a national registry, not the gateway. Either `--registry ADDR
 * --token FILE` (a token minted for that registry), or `--demo DIR --as ID`:
 * the pilot's demo.json lists each police agency's home registry and private
 * key, and a token for that registry is minted here, in the agency's name,
 * for each connection (`--country CC` sends to another country's registry,
 * which is how a clearing of someone else's case is tried).
 */
import { isAbsolute, join, resolve } from "node:path";
import { Code, ImeifedError } from "../errors/index.js";
import { readPrivateJwk } from "../trust/keys.js";
import { mintToken } from "../trust/token-minter.js";
import type { Scope } from "../trust/principal.js";
import { readDemoFile, readTokenFile } from "./client-target.js";
import { UsageError } from "./command.js";

/** A registry address and how to get a bearer token for it (fresh per call: a follower outlives one token). */
export interface RegistryTarget {
  readonly address: string;
  /** The registry's country, when known (always with --demo). */
  readonly country: string | undefined;
  token(): Promise<string>;
}

/** The flags that pick a registry target. */
export const REGISTRY_TARGET_FLAGS = {
  registry: { type: "string" },
  token: { type: "string" },
  demo: { type: "string" },
  as: { type: "string" },
  country: { type: "string" },
} as const;

export const REGISTRY_TARGET_USAGE = `  --registry ADDR --token FILE   the registry (host:port) and a file holding a token
                                 minted for it (audience: the registry's id)
  --demo DIR --as ID             act as police agency ID of a running pilot: its home
                                 registry, with a token minted from the pilot's keys
  --country CC                   with --demo: another country's registry instead of home`;

/** What demo.json says about police agencies and registries (the demo writes more). */
interface DemoFile {
  registries?: Record<string, unknown>;
  agencies?: Record<string, { country?: unknown; registryId?: unknown; keyFile?: unknown; scopes?: unknown }>;
}

/** A demo token lives this long; a follower mints another when its stream ends for an expired token. */
const DEMO_REGISTRY_TOKEN_TTL_SEC = 600;

/** Resolves the registry target from a command's flags. */
export async function registryTargetFromFlags(values: { registry?: string | undefined; token?: string | undefined; demo?: string | undefined; as?: string | undefined; country?: string | undefined }): Promise<RegistryTarget> {
  if (values.demo === undefined) {
    if (values.as !== undefined || values.country !== undefined) throw new UsageError("--as and --country go with --demo DIR");
    if (!values.registry) throw new UsageError("--registry ADDR is required (or --demo DIR --as ID)");
    if (!values.token) throw new UsageError("--token FILE is required (or --demo DIR --as ID)");
    const file = values.token;
    return { address: values.registry, country: undefined, token: () => readTokenFile(file) };
  }
  if (values.registry !== undefined || values.token !== undefined) throw new UsageError("give either --demo DIR --as ID, or --registry ADDR --token FILE");
  if (!values.as) throw new UsageError("--as is required with --demo (the police agency to act as, e.g. police-gb)");
  const dir = resolve(values.demo);
  const { demo: read, path } = await readDemoFile(dir);
  const demo = read as DemoFile;
  const agencies = demo.agencies ?? {};
  const agency = agencies[values.as];
  if (!agency) {
    const known = Object.keys(agencies).sort().join(", ");
    throw new UsageError(`--as ${values.as}: not a police agency of the pilot${known ? ` (it has: ${known})` : `; ${path} lists no agencies (restart the pilot with this version)`}`);
  }
  const home = String(agency.country ?? "");
  const country = (values.country ?? home).trim().toUpperCase();
  if (!/^[A-Z]{2}$/.test(country)) throw new UsageError(`--country: ${values.country} is not an ISO 3166-1 alpha-2 code such as GB`);
  const address = demo.registries?.[country];
  if (typeof address !== "string") throw new UsageError(`--country ${country}: the pilot has no registry there (it has: ${Object.keys(demo.registries ?? {}).sort().join(", ")})`);
  if (typeof agency.keyFile !== "string" || !Array.isArray(agency.scopes)) throw new ImeifedError(Code.FAILED_PRECONDITION, "DEMO_INVALID", `${path}: agency ${values.as} has no keyFile or scopes`);
  const privateJwk = await readPrivateJwk(isAbsolute(agency.keyFile) ? agency.keyFile : join(dir, agency.keyFile));
  // The pilot names registries registry-<cc>; a home registry's id is listed with its agency.
  const audience = country === home && typeof agency.registryId === "string" ? agency.registryId : `registry-${country.toLowerCase()}`;
  const issuer = values.as;
  const scopes = agency.scopes as Scope[];
  return { address, country, token: () => mintToken({ issuer, privateJwk, audience, scopes, ttlSec: DEMO_REGISTRY_TOKEN_TTL_SEC }) };
}
