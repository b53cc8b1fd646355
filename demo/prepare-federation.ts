/**
 * Lays out the pilot federation under one directory: every principal's keys,
 * the trust file, the TAC file, each registry's SQLite file seeded with
 * synthetic records, each registry's config, and a token per partner.
 * A second run reuses keys and data and renews the tokens.
 */
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { JWK } from "jose";
import { ClearReason, DeviceStatus, Reason } from "../gen/imeifed/v1/device_pb.js";
import { requireDevice } from "../device/index.js";
import { generatePrincipalKeys, keyFileNames, readPrivateJwk, writePrincipalKeys } from "../trust/keys.js";
import { mintToken } from "../trust/token-minter.js";
import type { ImportRow } from "../services/registry/store/registry-store.js";
import { openStore } from "../services/registry/store/open-store.js";
import { DEMO_COUNTRIES, DEMO_PRINCIPALS, GATEWAY_ID, TOKEN_HOLDERS, type DemoCountry } from "./demo-principals.js";
import { DEMO_TACS } from "./demo-tacs.js";
import { syntheticRecords, unlistedImei, UNLISTED_TAC, type SyntheticRecord } from "./synthetic-records.js";

/** How long pilot tokens last: a day of pilot, renewed by every `npm start`. */
export const DEMO_TOKEN_TTL_SEC = 26 * 3600;

export interface DemoSamples {
  prohibited: string[];
  tracked: string[];
  permitted: string[];
}

/** A police agency of the pilot, as the police commands (`imeifed report`, `clear`, `sightings`) need it. */
export interface DemoAgency {
  /** The country of its home registry (a key of demo.json's `registries`). */
  readonly country: string;
  /** Its home registry's principal id: the audience of a token for that registry. */
  readonly registryId: string;
  /** Its private signing key (JWK). */
  readonly keyFile: string;
  readonly scopes: readonly string[];
}

export interface PreparedFederation {
  readonly dir: string;
  readonly trustFile: string;
  readonly tacFile: string;
  /** Registry config file per country. */
  readonly registryConfigs: Readonly<Record<DemoCountry, string>>;
  readonly gatewayKeyFile: string;
  /** Token file per principal id. */
  readonly tokens: Readonly<Record<string, string>>;
  /** Each police agency's home registry and private key: the police commands mint a token for the registry with it. */
  readonly agencies: Readonly<Record<string, DemoAgency>>;
  /** All registries' attestation keys in one JWKS, for offline verification. */
  readonly registryJwksFile: string;
  readonly samples: DemoSamples;
  readonly records: number;
}

async function principalKey(keysDir: string, id: string): Promise<JWK> {
  const path = join(keysDir, keyFileNames(id).privateJwk);
  if (existsSync(path)) return readPrivateJwk(path);
  const keys = await generatePrincipalKeys(id);
  await writePrincipalKeys(keysDir, id, keys);
  return keys.privateJwk;
}

async function writeJson(path: string, value: unknown): Promise<void> {
  await writeFile(path, `${JSON.stringify(value, null, 2)}\n`);
}

const REASON_OF: Readonly<Record<SyntheticRecord["kind"], Reason>> = {
  "stolen-verified": Reason.STOLEN,
  stolen: Reason.STOLEN,
  lost: Reason.LOST,
  tracked: Reason.STOLEN,
  cleared: Reason.STOLEN,
};

function importRowOf(record: SyntheticRecord, line: number): ImportRow {
  return {
    line,
    report: {
      agency: record.agency,
      caseReference: record.caseReference,
      deviceKeys: record.imeis.map((imei) => requireDevice(imei).key),
      status: record.kind === "tracked" ? DeviceStatus.TRACKED : DeviceStatus.PROHIBITED,
      reason: REASON_OF[record.kind],
      sourceReasonCode: record.kind === "lost" ? "0012" : "0011",
      occurredAt: record.occurredAt.getTime(),
      make: record.tac.make,
      model: record.tac.model,
      crimeReference: record.crimeReference ?? "",
      owner: undefined,
      reportedAt: record.occurredAt.getTime() + 3_600_000,
    },
  };
}

function recordsOf(country: DemoCountry, count: number): Generator<SyntheticRecord> {
  const index = DEMO_COUNTRIES.indexOf(country);
  return syntheticRecords({ country, agency: `police-${country.toLowerCase()}`, count, seed: 1000 + index, serialBase: index * 180_000 });
}

/** Seeds one registry's SQLite file, unless it is already seeded. */
async function seedRegistry(country: DemoCountry, path: string, count: number): Promise<void> {
  const store = await openStore({ sqlite: path }, { country });
  try {
    if ((await store.lastSequence()) > 0) return;
    async function* rows(): AsyncGenerator<ImportRow> {
      let line = 0;
      for (const record of recordsOf(country, count)) yield importRowOf(record, ++line);
    }
    await store.importReports(rows());
    for (const record of recordsOf(country, count)) {
      if (record.kind !== "cleared") continue;
      for (const imei of record.imeis) {
        await store.clear({
          deviceKey: requireDevice(imei).key,
          requester: record.agency,
          isAdmin: false,
          caseReference: record.caseReference,
          reason: ClearReason.RETURNED,
          note: "returned to owner (synthetic)",
        });
      }
    }
  } finally {
    await store.close();
  }
}

/** A few IMEIs of each kind, spread over the countries, for people and scripts to try. */
function samplesOf(count: number): DemoSamples {
  const samples: DemoSamples = { prohibited: [], tracked: [], permitted: [] };
  for (const country of DEMO_COUNTRIES) {
    let prohibited = 0;
    let tracked = 0;
    let cleared = 0;
    for (const record of recordsOf(country, Math.min(count, 2_000))) {
      const imei = record.imeis[0]!;
      if (record.kind === "stolen-verified" && prohibited < 2) {
        samples.prohibited.push(imei);
        prohibited++;
      } else if (record.kind === "tracked" && tracked < 1) {
        samples.tracked.push(imei);
        tracked++;
      } else if (record.kind === "cleared" && cleared < 1 && record.imeis.length === 1) {
        samples.permitted.push(imei);
        cleared++;
      }
    }
  }
  for (let i = 0; i < 3; i++) samples.permitted.push(unlistedImei(i + 1));
  return samples;
}

export async function prepareFederation(options: { dir: string; records: number; gatewayAddress: string }): Promise<PreparedFederation> {
  const { dir } = options;
  const keysDir = join(dir, "keys");
  const dataDir = join(dir, "data");
  const configDir = join(dir, "registries");
  const tokenDir = join(dir, "tokens");
  for (const d of [dir, keysDir, dataDir, configDir, tokenDir]) await mkdir(d, { recursive: true });

  // The number of records is fixed by the first run: the data is reused after that.
  const seedFile = join(dir, "seed.json");
  const records = existsSync(seedFile) ? (JSON.parse(await readFile(seedFile, "utf8")) as { records: number }).records : options.records;
  await writeJson(seedFile, { records });

  const privateKeys = new Map<string, JWK>();
  for (const principal of DEMO_PRINCIPALS) privateKeys.set(principal.id, await principalKey(keysDir, principal.id));

  const trustFile = join(dir, "trust.json");
  await writeJson(trustFile, {
    principals: DEMO_PRINCIPALS.map((p) => ({
      id: p.id,
      name: p.name,
      country: p.country,
      kind: p.kind,
      scopes: p.scopes,
      ...(p.tacPrefixes ? { tacPrefixes: p.tacPrefixes } : {}),
      keys: { jwksFile: `keys/${keyFileNames(p.id).jwks}` },
    })),
  });

  // Osmocom export shape: banner, header, rows (make, then model).
  const tacFile = join(dir, "tac.csv");
  const tacRows = [...DEMO_TACS, UNLISTED_TAC].map((t) => `${t.tac},${t.make},${t.model},pilot,,,,`);
  await writeFile(tacFile, ["Osmocom TAC database under CC-BY-SA v3.0 (pilot excerpt)", "tac,name,name,contributor,comment,gsmarena,gsmarena,aka", ...tacRows, ""].join("\n"));

  const registryConfigs = {} as Record<DemoCountry, string>;
  const registryKeys: JWK[] = [];
  for (const country of DEMO_COUNTRIES) {
    const id = `registry-${country.toLowerCase()}`;
    await principalKey(keysDir, id);
    const jwks = JSON.parse(await readFile(join(keysDir, keyFileNames(id).jwks), "utf8")) as { keys: JWK[] };
    registryKeys.push(...jwks.keys);
    const db = join(dataDir, `${country.toLowerCase()}.sqlite`);
    await seedRegistry(country, db, records);
    const configFile = join(configDir, `${country.toLowerCase()}.json`);
    await writeJson(configFile, {
      country,
      id,
      listen: "127.0.0.1:0",
      db: { sqlite: `../data/${country.toLowerCase()}.sqlite` },
      trustFile: "../trust.json",
      attestationKey: `../keys/${keyFileNames(id).privateJwk}`,
      cacheMaxAgeSec: 300,
    });
    registryConfigs[country] = configFile;
  }
  const registryJwksFile = join(dir, "registry-keys.jwks.json");
  await writeJson(registryJwksFile, { keys: registryKeys });

  const tokens: Record<string, string> = {};
  for (const id of TOKEN_HOLDERS) {
    const principal = DEMO_PRINCIPALS.find((p) => p.id === id)!;
    const token = await mintToken({
      issuer: id,
      privateJwk: privateKeys.get(id)!,
      audience: GATEWAY_ID,
      scopes: principal.scopes,
      ttlSec: DEMO_TOKEN_TTL_SEC,
    });
    const path = join(tokenDir, `${id}.jwt`);
    await writeFile(path, `${token}\n`, { mode: 0o600 });
    tokens[id] = path;
  }

  const agencies: Record<string, DemoAgency> = {};
  for (const p of DEMO_PRINCIPALS) {
    if (p.kind !== "police") continue;
    agencies[p.id] = { country: p.country, registryId: `registry-${p.country.toLowerCase()}`, keyFile: join(keysDir, keyFileNames(p.id).privateJwk), scopes: p.scopes };
  }

  return {
    dir,
    trustFile,
    tacFile,
    registryConfigs,
    gatewayKeyFile: join(keysDir, keyFileNames(GATEWAY_ID).privateJwk),
    tokens,
    agencies,
    registryJwksFile,
    samples: samplesOf(records),
    records,
  };
}
