/**
 * Opens the store a registry's config names: a SQLite file (the default) or
 * a PostgreSQL schema.
 */
import type { RegistryStore } from "./registry-store.js";

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

/** Opens and migrates the store; each implementation is loaded only when used. */
export async function openStore(location: StoreLocation, options: OpenStoreOptions): Promise<RegistryStore> {
  if ("sqlite" in location) {
    const { openSqliteStore } = await import("./sqlite-store.js");
    return openSqliteStore({ path: location.sqlite, caseTokenSecret: options.caseTokenSecret });
  }
  const { openPostgresStore } = await import("./postgres-store.js");
  return openPostgresStore({ url: location.postgres, schema: location.schema ?? defaultSchema(options.country), caseTokenSecret: options.caseTokenSecret });
}
