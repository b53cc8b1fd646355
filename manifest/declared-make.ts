/**
 * Whether a manifest's declared make agrees with the make the TAC data knows.
 * Manifests spell makes loosely ("SAMSUNG", "Samsung Electronics",
 * "Sony-Ericsson"), and a false MODEL_MISMATCH holds a container for nothing,
 * so the comparison forgives case, accents, spacing and punctuation, and a
 * company suffix after the brand (one name beginning with the other, at least
 * three characters long). What remains is a real disagreement.
 */

/** The comparable form of a name (a make, or a header cell): lower case, no accents, letters and digits only. */
export function normaliseMake(make: string): string {
  return make
    .normalize("NFKD")
    .replace(/\p{M}/gu, "")
    .toLowerCase()
    .replace(/[^\p{L}\p{N}]/gu, "");
}

/** True when the declared make names the TAC's make; an empty side never disagrees. */
export function makesAgree(tacMake: string, declaredMake: string): boolean {
  const known = normaliseMake(tacMake);
  const declared = normaliseMake(declaredMake);
  if (known === "" || declared === "") return true;
  if (known === declared) return true;
  const [shorter, longer] = known.length <= declared.length ? [known, declared] : [declared, known];
  return shorter.length >= 3 && longer.startsWith(shorter);
}
