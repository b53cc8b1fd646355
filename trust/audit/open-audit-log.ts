/**
 * Opens the audit log a server's config names, so the registry, the gateway
 * and `imeifed audit verify` all read the same config shape the same way.
 */
import { z } from "zod";
import type { AuditBufferOptions } from "./audit-buffer.js";
import type { AuditLog } from "./audit-log.js";
import { PostgresAuditLog } from "./postgres-audit-log.js";
import { SqliteAuditLog } from "./sqlite-audit-log.js";

/** `{ sqlite: path }` or `{ postgres: url, schema? }`, as in the gateway and registry configs. */
export const auditConfigSchema = z.union([
  z.object({ sqlite: z.string().min(1) }).strict(),
  z.object({ postgres: z.string().min(1), schema: z.string().min(1).optional() }).strict(),
]);
/** A validated audit store location. */
export type AuditConfig = z.infer<typeof auditConfigSchema>;

/** Opens (and, unless read-only, creates) the configured audit log. */
export async function openAuditLog(config: AuditConfig, options: AuditBufferOptions & { readOnly?: boolean } = {}): Promise<AuditLog> {
  if ("sqlite" in config) return SqliteAuditLog.open(config.sqlite, options);
  return PostgresAuditLog.open(config.postgres, { ...options, ...(config.schema ? { schema: config.schema } : {}) });
}
