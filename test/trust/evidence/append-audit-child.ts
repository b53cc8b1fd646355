/**
 * A separate process appending to one audit log, for the several-writers test:
 * node --import tsx append-audit-child.ts <sqlite FILE | postgres URL SCHEMA> <writer> <count>
 */
import { PostgresAuditLog, SqliteAuditLog, type AuditLog } from "../../../trust/audit/index.js";
import { sampleEntry } from "./audit-stores.js";

const [kind, target, ...rest] = process.argv.slice(2);
const schema = kind === "postgres" ? rest.shift() : undefined;
const [writer, count] = [rest[0] ?? "w", Number(rest[1] ?? 100)];
const log: AuditLog = kind === "postgres" ? await PostgresAuditLog.open(target!, { schema: schema!, maxBatch: 7 }) : SqliteAuditLog.open(target!, { maxBatch: 7 });
for (let i = 0; i < count; i++) {
  log.append(sampleEntry(i, { server: writer, purpose: `${writer}-${i}` }));
  // Yield now and then so the writers' transactions interleave.
  if (i % 5 === 0) await new Promise((resolve) => setImmediate(resolve));
}
await log.close();
