/**
 * The body that issued a TAC, named by its first two digits (GSMA TS.06).
 * 00 and 02-09 are test ranges.
 */
const ISSUING_BODIES: Readonly<Record<string, string>> = {
  "01": "CTIA",
  "10": "DECT",
  "30": "Iridium",
  "33": "DGPT",
  "35": "BABT",
  "44": "BABT",
  "45": "NTA",
  "49": "BNetzA",
  "50": "BABT",
  "51": "Cisco",
  "52": "Cisco",
  "53": "TUV",
  "54": "Phoenix",
  "86": "TAF",
  "91": "MSAI",
  "98": "BABT",
  "99": "GHA",
};

export function issuingBodyOf(tac: string): string {
  const prefix = tac.slice(0, 2);
  if (prefix === "00" || (prefix >= "02" && prefix <= "09")) return "test range";
  return ISSUING_BODIES[prefix] ?? "unknown";
}
