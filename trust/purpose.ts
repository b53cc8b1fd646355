/**
 * The purpose of a question about a device: the case or declaration reference
 * the caller acts under. Every server audits it, so it is required, bounded
 * and plain text the same everywhere (a gateway must not accept what its
 * registries refuse, nor a registry what its gateway refuses): every server
 * that asks for one reads it through `requirePurpose`.
 */
import { invalidArgument } from "../errors/index.js";
import { checkText } from "../contract/text-rule.js";

/** The longest purpose, in characters; contract/text-limits.ts bounds every purpose field with it as the request enters. */
export const PURPOSE_LIMIT = 200;

/** The purpose `value` names, trimmed; INVALID_ARGUMENT naming `field` when it is empty, too long or not plain text. */
export function requirePurpose(value: string, field = "purpose"): string {
  const purpose = checkText(value, field, PURPOSE_LIMIT).trim();
  if (purpose === "") throw invalidArgument(field, "PURPOSE_REQUIRED", "is empty; give the case or declaration reference you act under (it is audited)");
  return purpose;
}
