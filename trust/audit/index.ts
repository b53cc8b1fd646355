/** The record of every question: hash-chained audit logs, their verifier and the interceptor that feeds them. */
export { GENESIS_HASH, entryHash, type AuditEntry, type AuditRecord } from "./audit-entry.js";
export { batchDigest, batchDigestOfKeyNumbers } from "./batch-digest.js";
export { queryAudit, type AuditChainSource, type AuditLog, type AuditQuery, type ChangeAudit } from "./audit-log.js";
export { AuditBuffer, type AuditBufferOptions } from "./audit-buffer.js";
export { SqliteAuditLog, type SqliteAuditLogOptions } from "./sqlite-audit-log.js";
export { PostgresAuditLog, type PostgresAuditLogOptions } from "./postgres-audit-log.js";
export { verifyAuditChain, type AuditChainReport, type AuditProblem, type VerifyAuditChainOptions } from "./verify-audit-chain.js";
export { AUDIT, AUDIT_DETAILS, auditDetails, changeAudit, createAuditInterceptor, messageAuditor, MESSAGE_AUDITOR, type AuditDetails, type AuditInterceptorOptions, type MessageAuditor } from "./audit-interceptor.js";
export { auditConfigSchema, openAuditLog, type AuditConfig } from "./open-audit-log.js";
