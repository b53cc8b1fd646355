/**
 * Puts every call that touched a device on record. The handler knows what the
 * call was about (device key or batch, purpose, verdict) and writes it into
 * the call's `AUDIT_DETAILS`; this interceptor knows who asked, how the call
 * ended and when, and appends one entry after the call, success or failure.
 * Calls that touched no device (health, keys, watch streams) leave no entry.
 *
 * A question's entry is queued (written within the buffer's flush interval);
 * a state-changing call's entry is on disk before the answer: written by the
 * store in the change's own transaction (`changeAudit`), or else, and for a
 * refused change, written durably here before the call returns.
 */
import { Code, ImeifedError } from "../../errors/index.js";
import { createContextKey, type CallContext } from "../../rpc/context.js";
import type { ServerInterceptor } from "../../rpc/server.js";
import { CALLER } from "../principal.js";
import type { AuditEntry } from "./audit-entry.js";
import type { AuditLog, ChangeAudit } from "./audit-log.js";

/** What a handler tells the audit about its call; set the fields it knows, leave the rest. */
export interface AuditDetails {
  /** The device key of a one-device call. */
  deviceKey?: string;
  /** `batchDigest(keys)` of a batch call, with `batchSize`. */
  batchDigest?: string;
  batchSize?: number;
  /** The case or declaration reference from the request. */
  purpose?: string;
  /** The countries asked or answering. */
  countries?: string[];
  /** The answer in a word (`PROHIBITED`, `CLEAN`, ...) or a short batch summary (`PROHIBITED:2 PERMITTED:998`). */
  verdict?: string;
}

/** Where the audit interceptor puts the call's fresh, mutable AuditDetails (undefined when no audit runs). */
export const AUDIT_DETAILS = createContextKey<AuditDetails | undefined>(undefined, "audit-details");
/** The same key under its short name. */
export const AUDIT = AUDIT_DETAILS;

/**
 * The call's AuditDetails, or a throw-away object when the server runs without
 * an audit log, so handlers can write to it unconditionally.
 */
export function auditDetails(ctx: Pick<CallContext, "values">): AuditDetails {
  return ctx.values.get(AUDIT_DETAILS) ?? {};
}

/** Options of the audit interceptor. */
export interface AuditInterceptorOptions {
  /** This server's id, recorded in every entry (e.g. `registry-gb`, `gateway`). */
  readonly server: string;
  /** The clock (tests). */
  readonly now?: () => Date;
  /**
   * The methods that change state (a report, a clearing, a sighting): their
   * entry is committed before the call answers, never left in the buffer.
   * The log must then offer `appendDurably`.
   */
  readonly durableMethods?: Iterable<string>;
}

/** The call's seal: its entry with status OK, as the change's transaction writes it. */
type ChangeSeal = () => AuditEntry;
const CHANGE_SEAL = createContextKey<ChangeSeal | undefined>(undefined, "audit-change-seal");

function touchedDevice(details: AuditDetails): boolean {
  return details.deviceKey !== undefined || details.batchDigest !== undefined;
}

/**
 * The interceptor: put it anywhere in the chain (it reads the caller after the
 * call, so it works before or after the authenticator). If the entry cannot be
 * queued (the store has been failing too long) a unary call fails with
 * UNAVAILABLE rather than answering a question nobody recorded.
 */
export function createAuditInterceptor(log: Pick<AuditLog, "append"> & Partial<Pick<AuditLog, "appendDurably">>, options: AuditInterceptorOptions): ServerInterceptor {
  const now = options.now ?? (() => new Date());
  const durable = new Set(options.durableMethods ?? []);
  const appendDurably = log.appendDurably?.bind(log);
  if (durable.size > 0 && !appendDurably) throw new Error("durableMethods needs an audit log that can append durably");
  return async (ctx, next) => {
    const details: AuditDetails = {};
    ctx.values.set(AUDIT_DETAILS, details);
    const record: MessageAuditor = async (message, statusCode, at) => {
      await log.append(entryOf(ctx, options.server, message, statusCode, at));
    };
    ctx.values.set(MESSAGE_AUDITOR, record);
    const at = now();
    // Set once the store has written the entry in the change's transaction.
    let sealedInTransaction = false;
    if (durable.has(ctx.method)) {
      ctx.values.set(CHANGE_SEAL, () => {
        sealedInTransaction = true;
        return entryOf(ctx, options.server, details, Code.OK, at);
      });
    }
    let statusCode: number = Code.OK;
    let failure: unknown;
    try {
      await next();
    } catch (error) {
      failure = error;
      statusCode = ImeifedError.from(error).code;
    }
    if (touchedDevice(details)) {
      if (!durable.has(ctx.method)) await record(details, statusCode, at);
      // A change that committed with its entry needs nothing more. A failed call may have failed
      // after its commit (a lost connection during COMMIT): it is recorded again, with its status.
      else if (!(sealedInTransaction && failure === undefined)) {
        try {
          await appendDurably!(entryOf(ctx, options.server, details, statusCode, at));
        } catch (error) {
          // A refused change stays refused; a made change is not answered OK before its entry is on disk.
          if (failure === undefined) throw error;
        }
      }
    }
    if (failure !== undefined) throw failure;
  };
}

/**
 * What a state-changing handler hands its store so the call's entry is
 * written in the change's own transaction: called inside that transaction
 * with its outcome, it sets the verdict and returns the entry (status OK).
 * Undefined when the server runs without an audit log, or the method is
 * not one of the interceptor's `durableMethods` (its entry is then queued
 * as a question's). A store that cannot write the entry in its transaction
 * leaves it uncalled, and the interceptor writes the entry durably before
 * the answer.
 */
export function changeAudit<T>(ctx: Pick<CallContext, "values">, verdictOf: (outcome: T) => string): ChangeAudit<T> | undefined {
  const seal = ctx.values.get(CHANGE_SEAL);
  if (!seal) return undefined;
  const details = auditDetails(ctx);
  return (outcome) => {
    details.verdict = verdictOf(outcome);
    return seal();
  };
}

function entryOf(ctx: Pick<CallContext, "values" | "method">, server: string, details: AuditDetails, statusCode: number, at: Date): AuditEntry {
  const caller = ctx.values.get(CALLER);
  return {
    at,
    server,
    principal: caller?.principal.id ?? "",
    actor: caller?.actor?.id,
    purpose: details.purpose,
    method: ctx.method,
    deviceKey: details.deviceKey,
    batchDigest: details.batchDigest,
    batchSize: details.batchSize,
    countries: details.countries,
    verdict: details.verdict,
    statusCode,
  };
}

/**
 * Appends one entry for one message of a stream whose messages are questions
 * of their own (CheckDevicesStream), with the call's caller and method. It
 * rejects when the entry cannot be queued: the message must then fail, as a
 * unary call would.
 */
export type MessageAuditor = (details: AuditDetails, statusCode: number, at: Date) => Promise<void>;

/** Where the audit interceptor puts the call's MessageAuditor. */
export const MESSAGE_AUDITOR = createContextKey<MessageAuditor | undefined>(undefined, "message-auditor");

/** The call's MessageAuditor, or one that records nothing when the server runs without an audit log. */
export function messageAuditor(ctx: Pick<CallContext, "values">): MessageAuditor {
  return ctx.values.get(MESSAGE_AUDITOR) ?? (async () => {});
}
