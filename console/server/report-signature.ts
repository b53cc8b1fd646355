/**
 * The agency's signature on a screening report it hands out: a compact JWS
 * (typ `imeifed-report+jwt`) whose claims carry the SHA-256 of the report's
 * exact bytes, signed with the agency's own key, so anyone holding the
 * agency's published JWKS can tell the file was not altered after the console
 * wrote it.
 *
 * Laid out so the signed bytes can be cut back out without parsing:
 * - CSV: the report, then one last line `#imeifed-signature,<jws>`.
 * - JSON: `{"signature":"<jws>","report":<the report, verbatim>}`.
 */
import { createHash } from "node:crypto";
import { importJWK, SignJWT, type JWK } from "jose";
import { algorithmOf } from "../../trust/keys.js";

/** The `typ` header of a report signature: never confusable with a token or an attestation. */
export const REPORT_SIGNATURE_TYPE = "imeifed-report+jwt";

/** The line that starts a signed CSV report's signature. */
export const CSV_SIGNATURE_PREFIX = "#imeifed-signature,";

/** What the signature states about the report. */
export interface ReportStatement {
  /** The declaration the report is about. */
  declaration: string;
  /** HOLD or RELEASE. */
  decision: string;
  format: "csv" | "json";
}

async function sign(report: Uint8Array, statement: ReportStatement, issuer: string, privateJwk: JWK): Promise<string> {
  const alg = algorithmOf(privateJwk)!;
  const key = await importJWK(privateJwk, alg);
  const sha256 = createHash("sha256").update(report).digest("hex");
  return new SignJWT({ ...statement, sha256 })
    .setProtectedHeader({ alg, typ: REPORT_SIGNATURE_TYPE, ...(privateJwk.kid ? { kid: privateJwk.kid } : {}) })
    .setIssuer(issuer)
    .setIssuedAt()
    .sign(key);
}

/** The report with the agency's signature laid out as described above. */
export async function signedReport(report: Uint8Array, statement: ReportStatement, issuer: string, privateJwk: JWK): Promise<Uint8Array> {
  const jws = await sign(report, statement, issuer, privateJwk);
  if (statement.format === "csv") {
    const newline = report.length === 0 || report[report.length - 1] === 0x0a ? "" : "\n";
    return Buffer.concat([report, Buffer.from(`${newline}${CSV_SIGNATURE_PREFIX}${jws}\n`)]);
  }
  return Buffer.concat([Buffer.from(`{"signature":${JSON.stringify(jws)},"report":`), report, Buffer.from("}\n")]);
}
