/**
 * Report and clear (police): a theft or loss reported to the agency's own
 * home registry, the reports made here listed, each clearable when the device
 * is recovered. The registry decides who may clear what (only the reporting
 * agency its own cases); its refusal is shown as it says it.
 */
import { timestampDate, timestampFromDate, type Timestamp } from "@bufbuild/protobuf/wkt";
import { ClearReason, DeviceStatus, Reason } from "../../gen/imeifed/v1/device_pb.js";
import { messageOf } from "./console-client.js";
import { field, h } from "./dom.js";
import { t } from "./i18n.js";
import type { PageContext } from "./lookup-page.js";

const REASONS = [Reason.STOLEN, Reason.LOST, Reason.FRAUD, Reason.COUNTERFEIT, Reason.NON_PAYMENT, Reason.REGULATORY, Reason.BLOCKED];
const CLEAR_REASONS = [ClearReason.RECOVERED, ClearReason.RETURNED, ClearReason.REPORTED_IN_ERROR, ClearReason.RESOLVED];

function when(ts: Timestamp | undefined): string {
  return ts ? timestampDate(ts).toISOString().slice(0, 16).replace("T", " ") : "";
}

export function reportPage(ctx: PageContext): HTMLElement {
  const imei = h("input", { name: "imei", required: true, autocomplete: "off", inputmode: "numeric", size: "20" });
  const imei2 = h("input", { name: "imei2", autocomplete: "off", inputmode: "numeric", size: "20" });
  const status = h("select", { name: "status" }, ...[DeviceStatus.PROHIBITED, DeviceStatus.TRACKED].map((s) => h("option", { value: String(s) }, DeviceStatus[s]!)));
  const reason = h("select", { name: "reason" }, ...REASONS.map((r) => h("option", { value: String(r) }, Reason[r]!)));
  const caseRef = h("input", { name: "case", required: true, size: "14" });
  const crimeRef = h("input", { name: "crime", size: "14" });
  const occurred = h("input", { name: "occurred", type: "date" });
  const out = h("div", { id: "report-out", "aria-live": "polite" });
  const listBox = h("div", { id: "reports" });

  const refresh = async () => {
    try {
      const { reports } = await ctx.client.listReports({ actAs: ctx.actAs() });
      if (reports.length === 0) {
        listBox.replaceChildren();
        return;
      }
      listBox.replaceChildren(
        h("h2", {}, t("yourReports")),
        h(
          "table",
          { id: "reports-table" },
          h("thead", {}, h("tr", {}, ...[t("imei"), t("caseColumn"), t("status"), t("reason"), t("verified"), t("reported"), t("cleared"), ""].map((c) => h("th", { scope: "col" }, c)))),
          h(
            "tbody",
            {},
            ...reports.map((r) => {
              const clearReason = h("select", { "aria-label": `${t("clearReason")} ${r.caseReference}` }, ...CLEAR_REASONS.map((c) => h("option", { value: String(c) }, ClearReason[c]!)));
              const clear = async () => {
                try {
                  await ctx.client.clearReport({ imei: r.imeis[0]!, caseReference: r.caseReference, reason: Number(clearReason.value), actAs: ctx.actAs() });
                  await refresh();
                } catch (error) {
                  out.replaceChildren(h("p", { class: "error", role: "alert" }, messageOf(error)));
                }
              };
              return h(
                "tr",
                { "data-case": r.caseReference },
                h("td", {}, r.imeis.join(", ")),
                h("td", {}, r.caseReference),
                h("td", {}, DeviceStatus[r.status] ?? ""),
                h("td", {}, Reason[r.reason] ?? ""),
                h("td", {}, r.verified ? t("yes") : t("no")),
                h("td", {}, when(r.filedAt)),
                h("td", { class: "cleared" }, r.clearedAt ? `${when(r.clearedAt)} (${ClearReason[r.clearReason] ?? ""})` : "—"),
                h("td", {}, r.clearedAt ? "" : h("span", {}, clearReason, " ", h("button", { type: "button", class: "clear", onclick: () => void clear() }, `${t("clear")} ${r.caseReference}`))),
              );
            }),
          ),
        ),
      );
    } catch (error) {
      listBox.replaceChildren(h("p", { class: "error", role: "alert" }, messageOf(error)));
    }
  };

  const form = h(
    "form",
    {
      id: "report-form",
      onsubmit: async (e: Event) => {
        e.preventDefault();
        try {
          const { answer } = await ctx.client.reportTheft({
            imeis: [imei.value, imei2.value].filter((v) => v.trim() !== ""),
            status: Number(status.value),
            reason: Number(reason.value),
            caseReference: caseRef.value,
            crimeReference: crimeRef.value,
            ...(occurred.valueAsDate ? { occurredAt: timestampFromDate(occurred.valueAsDate) } : {}),
            actAs: ctx.actAs(),
          });
          out.replaceChildren(h("p", { role: "status", id: "report-done" }, `${t("reported")}: ${(answer?.devices ?? []).map((d) => d.device?.imei).join(", ")}`));
          await refresh();
        } catch (error) {
          out.replaceChildren(h("p", { class: "error", role: "alert" }, messageOf(error)));
        }
      },
    },
    field(t("imei"), imei),
    field(t("imei2"), imei2),
    field(t("status"), status),
    field(t("reason"), reason),
    field(t("caseReference"), caseRef),
    field(t("crimeReference"), crimeRef),
    field(t("occurredAt"), occurred),
    h("button", { type: "submit" }, t("submitReport")),
  );
  void refresh();
  return h("section", { "aria-labelledby": "report-heading" }, h("h1", { id: "report-heading" }, t("report")), form, out, listBox);
}
