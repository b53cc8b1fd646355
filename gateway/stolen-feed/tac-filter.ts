/**
 * Which devices a manufacturer may hear about: those whose TAC (the first 8
 * digits, make and model) starts with one of the TAC prefixes its principal
 * lists in the trust file. A manufacturer never learns about another
 * manufacturer's stolen phones.
 */

/** Decides whether a device key belongs to one manufacturer; built once per feed. */
export type TacFilter = (deviceKey: string) => boolean;

/**
 * Builds the filter for a manufacturer's TAC prefixes. Prefixes that are not
 * 1 to 8 digits match nothing (a typo in the trust file must not widen what a
 * manufacturer sees), and an empty list matches nothing: deny by default.
 */
export function tacFilterFor(tacPrefixes: readonly string[]): TacFilter {
  const prefixes = tacPrefixes.filter((prefix) => /^\d{1,8}$/.test(prefix));
  if (prefixes.length === 0) return () => false;
  return (deviceKey) => /^\d{14}$/.test(deviceKey) && prefixes.some((prefix) => deviceKey.startsWith(prefix));
}
