/**
 * Counts the device checks a real registry serves, from inside the registry
 * (a server interceptor running within its audit interceptor, so the
 * handler's audit details say what each call was about).
 */
import type { ServerInterceptor } from "../../../rpc/index.js";
import { AUDIT_DETAILS, MESSAGE_AUDITOR, type AuditDetails } from "../../../trust/audit/index.js";
import { CALLER } from "../../../trust/principal.js";

/** One question a registry served: a CheckDevice(s) call or a CheckDevicesStream message. */
export interface ServedCheck {
  method: string;
  deviceKey: string | undefined;
  batchDigest: string | undefined;
  batchSize: number;
  /** The real requester named by the gateway's `act` claim. */
  actor: string | undefined;
  purpose: string | undefined;
}

/** A counter and the interceptor that feeds it. */
export function checkCounter(): { served: ServedCheck[]; interceptor: ServerInterceptor } {
  const served: ServedCheck[] = [];
  return {
    served,
    interceptor: async (ctx, next) => {
      const servedOf = (details: AuditDetails | undefined): ServedCheck => ({
        method: ctx.method,
        deviceKey: details?.deviceKey,
        batchDigest: details?.batchDigest,
        batchSize: details?.batchSize ?? 1,
        actor: ctx.values.get(CALLER)?.actor?.id,
        purpose: details?.purpose,
      });
      // A stream's questions are each recorded as they are audited.
      const auditor = ctx.values.get(MESSAGE_AUDITOR);
      if (auditor && ctx.method === "CheckDevicesStream") {
        ctx.values.set(MESSAGE_AUDITOR, async (details, statusCode, at) => {
          await auditor(details, statusCode, at);
          served.push(servedOf(details));
        });
      }
      await next();
      if (ctx.method !== "CheckDevice" && ctx.method !== "CheckDevices") return;
      served.push(servedOf(ctx.values.get(AUDIT_DETAILS)));
    },
  };
}
