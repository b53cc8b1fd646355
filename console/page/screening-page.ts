/**
 * The screening page: a manifest and the declaration in, screened by the
 * console through the gateway; progress (items per second, time left) streams
 * back, findings fill a filterable table, and the HOLD / RELEASE decision ends
 * it with the signed report to download.
 */
import { ReportFormat, type ScreenResult } from "../../gen/imeifed/console/v1/console_pb.js";
import { ScreeningDecision, ScreeningOutcome, UnansweredPolicy, UnansweredReason, type ScreeningFinding } from "../../gen/imeifed/v1/federation_pb.js";
import { messageOf } from "./console-client.js";
import { download, field, h } from "./dom.js";
import { t } from "./i18n.js";
import type { PageContext } from "./lookup-page.js";

function seconds(s: number): string {
  if (!Number.isFinite(s) || s <= 0) return "0 s";
  return s < 90 ? `${Math.ceil(s)} s` : `${Math.ceil(s / 60)} min`;
}

function findingRow(f: ScreeningFinding): HTMLTableRowElement {
  const outcome = ScreeningOutcome[f.outcome] ?? "";
  const where = f.findings.filter((r) => r.finding).map((r) => r.finding!.country).join(", ");
  return h("tr", { "data-outcome": outcome }, h("td", {}, f.item?.lineReference ?? ""), h("td", {}, f.item?.deviceId ?? ""), h("td", {}, outcome), h("td", {}, [f.detail, where].filter(Boolean).join(" · ")));
}

function resultView(result: ScreenResult, ctx: PageContext): HTMLElement {
  const summary = result.summary!;
  const decision = ScreeningDecision[summary.decision] ?? "UNSPECIFIED";
  const fetchReport = async (format: ReportFormat) => {
    const report = await ctx.client.getScreeningReport({ reportId: result.reportId, format });
    download(report.fileName, report.content as Uint8Array<ArrayBuffer>, report.mediaType);
  };
  return h(
    "section",
    { id: "screening-result", "aria-labelledby": "decision-heading" },
    h("h2", { id: "decision-heading" }, t("decision")),
    h("p", { class: `verdict decision-${decision}`, id: "decision", role: "status" }, decision),
    summary.unanswered.length === 0
      ? null
      : h("p", { id: "hold-why" }, t("holdBecause"), " ", summary.unanswered.map((u) => `${u.country} (${UnansweredReason[u.reason] ?? ""}${u.detail ? `: ${u.detail}` : ""})`).join("; ")),
    h("p", {}, `${summary.itemsScreened.toLocaleString()} ${t("itemsScreened")}`),
    result.findingsNotStreamed > 0n ? h("p", { class: "muted" }, `${result.findingsNotStreamed.toLocaleString()} ${t("findingsOnlyInReport")}`) : null,
    h("p", {}, h("button", { type: "button", id: "report-csv", onclick: () => void fetchReport(ReportFormat.CSV) }, t("downloadCsv")), " ", h("button", { type: "button", id: "report-json", onclick: () => void fetchReport(ReportFormat.JSON) }, t("downloadJson"))),
  );
}

export function screeningPage(ctx: PageContext): HTMLElement {
  const file = h("input", { type: "file", name: "manifest", accept: ".csv,.txt,.xlsx,text/csv,application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", required: true });
  const declaration = h("input", { name: "declaration", required: true, size: "14" });
  const exporter = h("input", { name: "exporter", size: "14" });
  const destination = h("input", { name: "destination", required: true, size: "3", maxlength: "2", pattern: "[A-Za-z]{2}" });
  const policy = h("select", { name: "on-unanswered" }, h("option", { value: "hold" }, t("hold")), h("option", { value: "pass" }, t("pass")));
  if (ctx.pilot) {
    declaration.value = "DEC-PILOT-1";
    destination.value = "HK";
  }
  const bar = h("progress", { id: "screening-progress", max: "1", value: "0" });
  const barLabel = h("span", { id: "progress-text", "aria-live": "polite" });
  const progress = h("div", { hidden: true, id: "progress-box" }, field(t("progress"), bar as unknown as HTMLInputElement), barLabel);
  const filter = h("select", { id: "outcome-filter" }, h("option", { value: "" }, t("all")), ...["PROHIBITED", "TRACKED", "MALFORMED", "DUPLICATE", "MODEL_MISMATCH", "UNANSWERED"].map((o) => h("option", { value: o }, o)));
  const body = h("tbody", {});
  const table = h("table", { id: "screening-findings" }, h("thead", {}, h("tr", {}, ...[t("item"), t("identifier"), t("outcome"), t("detail")].map((c) => h("th", { scope: "col" }, c)))), body);
  const applyFilter = () => {
    for (const row of body.rows) row.hidden = filter.value !== "" && row.dataset.outcome !== filter.value;
  };
  filter.addEventListener("change", applyFilter);
  const findingsBox = h("div", { hidden: true, id: "findings-box" }, h("h2", {}, t("findings")), field(t("filter"), filter), table);
  const out = h("div", { id: "screening-out" });
  const submit = h("button", { type: "submit" }, t("screen"));
  const form = h(
    "form",
    {
      id: "screening-form",
      onsubmit: async (e: Event) => {
        e.preventDefault();
        const chosen = file.files?.[0];
        if (!chosen) return;
        submit.disabled = true;
        out.replaceChildren();
        body.replaceChildren();
        progress.hidden = false;
        findingsBox.hidden = true;
        bar.value = 0;
        barLabel.textContent = "";
        try {
          const manifest = new Uint8Array(await chosen.arrayBuffer());
          const stream = ctx.client.screen({
            manifest,
            fileName: chosen.name,
            actAs: ctx.actAs(),
            shipment: {
              declarationReference: declaration.value,
              exporter: exporter.value,
              destinationCountry: destination.value.toUpperCase(),
              onUnanswered: policy.value === "pass" ? UnansweredPolicy.PASS : UnansweredPolicy.HOLD,
            },
          });
          for await (const response of stream) {
            const m = response.message;
            if (m.case === "progress") {
              const p = m.value;
              const total = Number(p.itemsTotal) || 1;
              bar.value = Math.min(1, Number(p.itemsScreened) / total);
              bar.setAttribute("aria-valuetext", `${p.itemsScreened} / ${p.itemsTotal}`);
              barLabel.textContent = `${p.itemsScreened.toLocaleString()} / ${p.itemsTotal.toLocaleString()} · ${Math.round(p.itemsPerSecond).toLocaleString()} ${t("itemsPerSecond")} · ${seconds(p.secondsLeft)} ${t("timeLeft")}`;
            } else if (m.case === "finding") {
              findingsBox.hidden = false;
              const row = findingRow(m.value);
              row.hidden = filter.value !== "" && row.dataset.outcome !== filter.value;
              body.append(row);
            } else if (m.case === "result") {
              out.replaceChildren(resultView(m.value, ctx));
            }
          }
        } catch (error) {
          out.replaceChildren(h("p", { class: "error", role: "alert", id: "screening-error" }, messageOf(error)));
        } finally {
          submit.disabled = false;
        }
      },
    },
    field(t("manifest"), file),
    field(t("declaration"), declaration),
    field(t("exporter"), exporter),
    field(t("destination"), destination),
    field(t("onUnanswered"), policy),
    submit,
  );
  return h("section", { "aria-labelledby": "screening-heading" }, h("h1", { id: "screening-heading" }, t("screening")), form, progress, out, findingsBox);
}
