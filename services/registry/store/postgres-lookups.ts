/**
 * The PostgreSQL store's lookups by device key and by record id, in a shape
 * whose plan does not depend on the planner's statistics.
 *
 * `device_key = ANY($1)` (or a plain join on `unnest($1)`) is planned from
 * statistics, and a table just bulk-loaded has none until it is analyzed: the
 * planner then guesses that each key matches many rows and scans the whole
 * table for every batch. A LATERAL subquery that OFFSET 0 keeps from being
 * flattened into a join leaves it one choice per asked key: probe the index
 * or scan the table, and the probe always costs less. A key asked twice
 * yields its rows twice.
 *
 * The sessions also run with JIT off (`POSTGRES_SESSION_SETTINGS`): without
 * statistics these plans are costed high enough to be JIT-compiled, which
 * costs more than any lookup it could speed up.
 */
import { RECORD_COLUMNS } from "./record-row.js";

/** Settings of every store session (libpq `options`), besides its search_path. */
export const POSTGRES_SESSION_SETTINGS = "-c jit=off";

/** Every record of each key ($1: text[]). */
export const RECORDS_FOR_KEYS = {
  name: "records-for-keys",
  text: `SELECT r.* FROM unnest($1::text[]) AS k(device_key)
         CROSS JOIN LATERAL (SELECT ${RECORD_COLUMNS} FROM records WHERE records.device_key = k.device_key OFFSET 0) r`,
} as const;

/** The open records of each key ($1: text[]). */
export const OPEN_RECORDS_FOR_KEYS = {
  name: "open-records-for-keys",
  text: `SELECT r.* FROM unnest($1::text[]) AS k(device_key)
         CROSS JOIN LATERAL (SELECT ${RECORD_COLUMNS} FROM records WHERE records.device_key = k.device_key AND cleared_at IS NULL OFFSET 0) r`,
} as const;

/** The open records of one key ($1: text): a plain indexed equality, the cheapest plan for a single question. */
export const OPEN_RECORDS_FOR_KEY = {
  name: "open-records-for-key",
  text: `SELECT ${RECORD_COLUMNS} FROM records WHERE device_key = $1 AND cleared_at IS NULL`,
} as const;

/** The records of the given ids ($1: bigint[]). */
export const RECORDS_BY_ID = {
  name: "records-by-id",
  text: `SELECT r.* FROM unnest($1::bigint[]) AS k(id) CROSS JOIN LATERAL (SELECT ${RECORD_COLUMNS} FROM records WHERE records.id = k.id OFFSET 0) r`,
} as const;
