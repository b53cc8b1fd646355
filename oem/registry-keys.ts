/**
 * The registries' public keys, which prove that an event's attestation was
 * signed by the registry that owns the record and not by the gateway (or anyone
 * between). Two ways to get them:
 *
 * - a JWKS file (`--jwks FILE`): obtained out of band (from each registry, or
 *   a copy of GetRegistryKeys checked by a person). The gateway is then not
 *   trusted with keys at all: a compromised gateway cannot forge an event.
 * - fetched from the gateway's GetRegistryKeys once at start (no `--jwks`):
 *   no file to maintain, but the keys are as trustworthy as the TLS connection
 *   to the gateway; a compromised gateway could hand out its own keys.
 *
 * A file may be a plain JWKS `{"keys": [...]}` (all registries merged) or
 * `{"registries": {"GB": {"keys": [...]}, ...}}`. The per-country form is
 * stronger: an attestation for a GB event must then verify with GB's keys
 * only, so one registry's key cannot vouch for another registry's records.
 */
import { readFile } from "node:fs/promises";
import type { JSONWebKeySet } from "jose";
import { Code, ImeifedError } from "../errors/index.js";
import type { GetRegistryKeysResponse } from "../gen/imeifed/v1/federation_pb.js";

/** Keys to verify attestations with: per registry country when known, and all of them merged. */
export interface RegistryKeySet {
  readonly byCountry: ReadonlyMap<string, JSONWebKeySet>;
  readonly all: JSONWebKeySet;
}

/** Where keys come from; `refresh` re-reads them (a registry rotated its key) and says whether they changed. */
export interface RegistryKeySource {
  current(): RegistryKeySet;
  refresh(): Promise<boolean>;
}

function isJwks(value: unknown): value is JSONWebKeySet {
  return typeof value === "object" && value !== null && Array.isArray((value as { keys?: unknown }).keys);
}

/** Builds a key set from either accepted JSON form; `origin` names the source in errors. */
export function registryKeySetFromJson(json: unknown, origin: string): RegistryKeySet {
  const bad = (problem: string) =>
    new ImeifedError(Code.INVALID_ARGUMENT, "JWKS_INVALID", `${origin} ${problem}; give a JWKS {"keys": [...]} or {"registries": {"GB": {"keys": [...]}}}`);
  if (isJwks(json)) return { byCountry: new Map(), all: json };
  const registries = (json as { registries?: unknown } | null)?.registries;
  if (typeof registries !== "object" || registries === null || Array.isArray(registries)) throw bad("is not a JWKS");
  const byCountry = new Map<string, JSONWebKeySet>();
  const all: JSONWebKeySet = { keys: [] };
  for (const [country, jwks] of Object.entries(registries)) {
    if (!/^[A-Z]{2}$/.test(country)) throw bad(`has registry ${JSON.stringify(country)}, not an ISO 3166-1 alpha-2 code`);
    if (!isJwks(jwks)) throw bad(`has no "keys" list for ${country}`);
    byCountry.set(country, jwks);
    all.keys.push(...jwks.keys);
  }
  return { byCountry, all };
}

/** Reads a key set from a JWKS file. */
export async function readRegistryKeysFile(path: string): Promise<RegistryKeySet> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new ImeifedError(Code.FAILED_PRECONDITION, "JWKS_UNREADABLE", `cannot read the JWKS file ${path}: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ImeifedError(Code.INVALID_ARGUMENT, "JWKS_INVALID", `the JWKS file ${path} is not JSON`);
  }
  return registryKeySetFromJson(json, `the JWKS file ${path}`);
}

/** Builds a key set from the gateway's GetRegistryKeys answer (per country). */
export function registryKeySetFromResponse(response: GetRegistryKeysResponse): RegistryKeySet {
  const registries: Record<string, unknown> = {};
  for (const entry of response.registries) registries[entry.country] = JSON.parse(entry.jwksJson) as unknown;
  if (response.registries.length === 0 && response.jwksJson) return registryKeySetFromJson(JSON.parse(response.jwksJson), "the gateway's GetRegistryKeys");
  return registryKeySetFromJson({ registries }, "the gateway's GetRegistryKeys");
}

/** A key source that reloads the file on refresh (the operator may have replaced it after a rotation). */
export async function fileKeySource(path: string): Promise<RegistryKeySource> {
  let keys = await readRegistryKeysFile(path);
  return {
    current: () => keys,
    async refresh() {
      const next = await readRegistryKeysFile(path);
      const changed = JSON.stringify([...next.byCountry, next.all]) !== JSON.stringify([...keys.byCountry, keys.all]);
      keys = next;
      return changed;
    },
  };
}

/** A key source that asks the gateway; `fetchKeys` is the GetRegistryKeys call. */
export async function gatewayKeySource(fetchKeys: () => Promise<GetRegistryKeysResponse>): Promise<RegistryKeySource> {
  let keys = registryKeySetFromResponse(await fetchKeys());
  return {
    current: () => keys,
    async refresh() {
      const next = registryKeySetFromResponse(await fetchKeys());
      const changed = JSON.stringify([...next.byCountry, next.all]) !== JSON.stringify([...keys.byCountry, keys.all]);
      keys = next;
      return changed;
    },
  };
}
