/**
 * Opens the store a registry's config names: a SQLite file (the default) or
 * a PostgreSQL schema.
 */
import { openPostgresStore } from "./postgres-store.js";
import type { RegistryStore } from "./registry-store.js";
import { openSqliteStore } from "./sqlite-store.js";

/** Where a registry keeps its records: `{ sqlite: path }` or `{ postgres: url, schema? }`. */
export type StoreLocation = { readonly sqlite: string } | { readonly postgres: string; readonly schema?: string | undefined };

export interface OpenStoreOptions {
  /** ISO 3166-1 alpha-2: names the default PostgreSQL schema (`registry_gb`). */
  readonly country: string;
  readonly caseTokenSecret?: string | undefined;
}

/** The default PostgreSQL schema of a country's registry. */
export function defaultSchema(country: string): string {
  return `registry_${country.toLowerCase()}`;
}

/**
 * Opens and migrates the store. Both implementations are imported statically:
 * under mocha's tsx hook a dynamic import() loads a second copy of shared
 * modules, and errors/ImeifedError thrown from it would no longer be
 * recognised (they would reach callers as INTERNAL).
 */
export async function openStore(location: StoreLocation, options: OpenStoreOptions): Promise<RegistryStore> {
  if ("sqlite" in location) return openSqliteStore({ path: location.sqlite, caseTokenSecret: options.caseTokenSecret });
  return openPostgresStore({ url: location.postgres, schema: location.schema ?? defaultSchema(options.country), caseTokenSecret: options.caseTokenSecret });
}
