/**
 * The signed-in officer of a call (the OpenID Connect subject), undefined on
 * a loopback console without sign-in. The console adds it to the purpose of
 * every purpose-bearing call, so the gateway's and every registry's audit
 * record which officer asked.
 */
import { Code as ConnectCode, ConnectError, createContextKey } from "@connectrpc/connect";
import { PURPOSE_LIMIT } from "../../trust/purpose.js";

export const OFFICER = createContextKey<string | undefined>(undefined, { description: "signed-in officer" });

/** `purpose` with the officer named, as the audits record it. */
export function purposeWithOfficer(purpose: string, officer: string | undefined): string {
  if (officer === undefined) return purpose;
  const combined = `${purpose.trim()} (officer ${officer})`;
  if (combined.length > PURPOSE_LIMIT) throw new ConnectError(`purpose: at most ${PURPOSE_LIMIT - officer.length - 11} characters with your officer id (it is recorded with every question)`, ConnectCode.InvalidArgument);
  return combined;
}
