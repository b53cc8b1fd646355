/**
 * What an ME-Identity-Check-Request (TS 29.272 §7.2.19) asks, read and
 * checked before any work: the IMEI of its Terminal-Information (14 digits,
 * TAC and serial, as TS 23.003 puts an IMEI on S13; a 15th digit, which TS
 * 29.272 §7.3.4 allows, is taken as the check digit) and the optional 2-digit
 * Software-Version. User-Name (the IMSI) is deliberately not read at all: it
 * is personal, and nothing here needs it.
 */
import { missingAvp } from "./answers.js";
import { AVP, RESULT_CODE, avpOf, findAvp, valueOf, type DiameterAvp, type DiameterMessage } from "./diameter/index.js";

export interface MeIdentityCheckQuestion {
  /** The IMEI digits as sent: 14 (TAC + serial) or 15 (with the check digit). */
  readonly imei: string;
  readonly softwareVersion?: string;
}

/** A request that cannot be asked, with the answer's result code and the AVP to name in Failed-AVP. */
export interface RefusedQuestion {
  readonly resultCode: number;
  readonly failedAvp: DiameterAvp;
  readonly errorMessage: string;
}

export type ReadQuestion = { readonly ok: true; readonly question: MeIdentityCheckQuestion } | { readonly ok: false; readonly refused: RefusedQuestion };

const IMEI_DIGITS = /^\d{14,15}$/;
const SOFTWARE_VERSION = /^\d{2}$/;

export function readMeIdentityCheck(request: DiameterMessage): ReadQuestion {
  const refuse = (resultCode: number, failedAvp: DiameterAvp, errorMessage: string): ReadQuestion => ({ ok: false, refused: { resultCode, failedAvp, errorMessage } });
  if (!findAvp(request.avps, AVP.SessionId)) return refuse(RESULT_CODE.MISSING_AVP, missingAvp(AVP.SessionId), "Session-Id is missing");
  const terminal = findAvp(request.avps, AVP.TerminalInformation);
  if (!terminal) return refuse(RESULT_CODE.MISSING_AVP, missingAvp(AVP.TerminalInformation), "Terminal-Information (1401, vendor 10415) is missing");
  const inner = valueOf(AVP.TerminalInformation, terminal);
  if (!inner.ok) return refuse(inner.error.resultCode === RESULT_CODE.INVALID_AVP_LENGTH ? RESULT_CODE.INVALID_AVP_LENGTH : RESULT_CODE.INVALID_AVP_VALUE, terminal, inner.error.message);
  // Failed-AVP names an inner AVP by its path: the Terminal-Information holding it.
  const within = (avp: DiameterAvp) => avpOf(AVP.TerminalInformation, [avp]);
  const imeiAvp = findAvp(inner.value, AVP.Imei);
  if (!imeiAvp) return refuse(RESULT_CODE.MISSING_AVP, within(missingAvp(AVP.Imei)), "Terminal-Information has no IMEI (1402, vendor 10415)");
  const imei = valueOf(AVP.Imei, imeiAvp);
  if (!imei.ok || !IMEI_DIGITS.test(imei.value)) {
    return refuse(RESULT_CODE.INVALID_AVP_VALUE, within(imeiAvp), `IMEI must be 14 digits (TAC and serial) or 15 with the check digit; got ${imeiAvp.data.length} bytes that are not`);
  }
  const versionAvp = findAvp(inner.value, AVP.SoftwareVersion);
  if (!versionAvp) return { ok: true, question: { imei: imei.value } };
  const version = valueOf(AVP.SoftwareVersion, versionAvp);
  if (!version.ok || !SOFTWARE_VERSION.test(version.value)) return refuse(RESULT_CODE.INVALID_AVP_VALUE, within(versionAvp), "Software-Version must be 2 digits");
  return { ok: true, question: { imei: imei.value, softwareVersion: version.value } };
}
