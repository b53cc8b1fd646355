/**
 * The lookup page: an IMEI in, the verdict at a glance, each country's finding
 * with its attestation checked here in the browser, the countries that did not
 * answer and why, and the evidence to download or print.
 */
import { toJson } from "@bufbuild/protobuf";
import { timestampDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { DeviceStatus, Reason } from "../../gen/imeifed/v1/device_pb.js";
import { LookupResponseSchema, UnansweredReason, Verdict, type GetRegistryKeysResponse, type LookupResponse } from "../../gen/imeifed/v1/federation_pb.js";
import { checkAttestation, keysByCountry, type AttestationCheck } from "./attestation-check.js";
import type { ConsoleClient } from "./console-client.js";
import { messageOf } from "./console-client.js";
import { download, field, h } from "./dom.js";
import { t } from "./i18n.js";

function day(ts: Timestamp | undefined): string {
  return ts ? timestampDate(ts).toISOString().slice(0, 10) : "";
}

export interface PageContext {
  client: ConsoleClient;
  actAs: () => string;
  pilot: boolean;
  /** Aborted when the person leaves the page: its streams end. */
  signal: AbortSignal;
}

async function registryKeys(client: ConsoleClient): Promise<GetRegistryKeysResponse | undefined> {
  try {
    return (await client.getRegistryKeys({})).keys;
  } catch {
    return undefined;
  }
}

function answerView(answer: LookupResponse, checks: AttestationCheck[]): HTMLElement {
  const verdict = Verdict[answer.verdict] ?? "UNSPECIFIED";
  const device = answer.device;
  const model = [answer.make, answer.model].filter(Boolean).join(" ");
  const findings = answer.findings.filter((f) => f.finding);
  const evidence = () => {
    const json = {
      answer: toJson(LookupResponseSchema, answer),
      attestationChecks: findings.map((f, i) => ({ country: f.finding!.country, verified: checks[i]!.ok, ...(checks[i]!.ok ? {} : { why: (checks[i] as { why: string }).why }) })),
      checkedAt: new Date().toISOString(),
    };
    download(`evidence-${device?.deviceKey ?? "device"}.json`, JSON.stringify(json, null, 2), "application/json");
  };
  return h(
    "section",
    { "aria-labelledby": "answer-heading", id: "answer" },
    h("h2", { id: "answer-heading" }, t("verdict")),
    h("p", { class: `verdict verdict-${verdict}`, id: "verdict", role: "status" }, verdict),
    h(
      "dl",
      {},
      h("dt", {}, t("device")),
      h("dd", { id: "device" }, device ? `${device.imei} (TAC ${device.tac}${device.issuingBody ? `, ${device.issuingBody}` : ""})` : ""),
      h("dt", {}, t("makeModel")),
      h("dd", { id: "make-model" }, model || "—"),
    ),
    h("h3", {}, t("findings")),
    findings.length === 0
      ? h("p", { id: "no-findings" }, t("noFindings"))
      : h(
          "table",
          { id: "findings" },
          h("thead", {}, h("tr", {}, ...[t("country"), t("status"), t("reason"), t("reportedAt"), t("agency"), t("verified"), t("attestation")].map((c) => h("th", { scope: "col" }, c)))),
          h(
            "tbody",
            {},
            ...findings.map((f, i) => {
              const x = f.finding!;
              const check = checks[i]!;
              return h(
                "tr",
                { "data-country": x.country },
                h("td", {}, x.country),
                h("td", {}, DeviceStatus[x.status] ?? ""),
                h("td", {}, Reason[x.reason] ?? ""),
                h("td", {}, day(x.reportedAt), f.stale ? h("span", { class: "muted" }, ` (${t("stale")})`) : null),
                h("td", {}, x.reportingAgency || "—"),
                h("td", {}, x.verified ? t("yes") : t("no")),
                h("td", { class: check.ok ? "verified-yes attestation" : "verified-no attestation", title: check.ok ? "" : check.why }, check.ok ? t("attestationOk") : `${t("attestationBad")}: ${check.why}`),
              );
            }),
          ),
        ),
    answer.unanswered.length === 0
      ? null
      : h(
          "div",
          { id: "unanswered" },
          h("h3", {}, t("notAnswered")),
          h(
            "table",
            {},
            h("thead", {}, h("tr", {}, ...[t("country"), t("why"), t("detail")].map((c) => h("th", { scope: "col" }, c)))),
            h("tbody", {}, ...answer.unanswered.map((u) => h("tr", { "data-country": u.country }, h("td", {}, u.country), h("td", {}, UnansweredReason[u.reason] ?? ""), h("td", {}, u.detail)))),
          ),
        ),
    h("p", { class: "no-print" }, h("button", { type: "button", id: "download-evidence", onclick: evidence }, t("downloadEvidence")), " ", h("button", { type: "button", id: "print", onclick: () => window.print() }, t("print"))),
  );
}

export function lookupPage(ctx: PageContext): HTMLElement {
  const imei = h("input", { name: "imei", autocomplete: "off", inputmode: "numeric", required: true, autofocus: true, size: "24" });
  const purpose = h("input", { name: "purpose", required: true, size: "16" });
  if (ctx.pilot) purpose.value = "PILOT-1";
  const out = h("div", { "aria-live": "polite", id: "lookup-result" });
  let keys: Promise<GetRegistryKeysResponse | undefined> | undefined;
  const form = h(
    "form",
    {
      id: "lookup-form",
      onsubmit: async (e: Event) => {
        e.preventDefault();
        out.replaceChildren(h("p", {}, t("checking")));
        try {
          keys ??= registryKeys(ctx.client);
          const { answer } = await ctx.client.lookup({ imei: imei.value, purpose: purpose.value, actAs: ctx.actAs() });
          if (!answer) throw new Error("empty answer");
          let known = keysByCountry(await keys);
          // A registry unseen when the keys were fetched (or rotated since): fetch them again once.
          if (answer.findings.some((f) => f.finding && !known.has(f.finding.country))) {
            keys = registryKeys(ctx.client);
            known = keysByCountry(await keys);
          }
          const checks = await Promise.all(answer.findings.filter((f) => f.finding).map((f) => checkAttestation(f.finding!, known)));
          out.replaceChildren(answerView(answer, checks));
        } catch (error) {
          out.replaceChildren(h("p", { class: "error", role: "alert" }, messageOf(error)));
        }
      },
    },
    field(t("imei"), imei),
    field(t("purpose"), purpose),
    h("button", { type: "submit" }, t("check")),
  );
  return h("section", { "aria-labelledby": "lookup-heading" }, h("h1", { id: "lookup-heading" }, t("lookup")), form, out);
}
