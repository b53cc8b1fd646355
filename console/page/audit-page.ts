/**
 * Who asked about our records? (registry administrators): the registry's own
 * audit, filtered by partner, purpose and time, newest first.
 */
import { timestampDate, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { messageOf } from "./console-client.js";
import { field, h } from "./dom.js";
import { t } from "./i18n.js";
import type { PageContext } from "./lookup-page.js";

export function auditPage(ctx: PageContext): HTMLElement {
  const partner = h("input", { name: "partner", size: "16" });
  const purpose = h("input", { name: "purpose", size: "16" });
  const since = h("input", { name: "since", type: "datetime-local" });
  const until = h("input", { name: "until", type: "datetime-local" });
  const out = h("div", { id: "audit-out", "aria-live": "polite" });
  const dateOf = (input: HTMLInputElement) => (input.value ? new Date(input.value) : undefined);
  let asked = 0;
  const search = async () => {
    // Only the latest question's answer is shown, whatever order the answers arrive in.
    const mine = ++asked;
    try {
      const from = dateOf(since);
      const to = dateOf(until);
      const { entries, truncated } = await ctx.client.queryAudit({
        partner: partner.value.trim(),
        purpose: purpose.value,
        ...(from ? { since: timestampFromDate(from) } : {}),
        ...(to ? { until: timestampFromDate(to) } : {}),
        actAs: ctx.actAs(),
      });
      if (mine !== asked) return;
      out.replaceChildren(
        entries.length === 0
          ? h("p", { id: "audit-empty" }, t("noEntries"))
          : h(
              "table",
              { id: "audit-table" },
              h("thead", {}, h("tr", {}, ...[t("seenAt"), t("partner"), "principal", t("purpose"), t("method"), t("device"), t("verdict"), "status"].map((c) => h("th", { scope: "col" }, c)))),
              h(
                "tbody",
                {},
                ...entries.map((e) =>
                  h(
                    "tr",
                    {},
                    h("td", {}, e.at ? timestampDate(e.at).toISOString().slice(0, 19).replace("T", " ") : ""),
                    h("td", {}, e.actor || e.principal),
                    h("td", {}, e.principal),
                    h("td", {}, e.purpose),
                    h("td", {}, e.method),
                    h("td", {}, e.deviceKey || (e.batchSize ? `${e.batchSize} devices` : "")),
                    h("td", {}, e.verdict),
                    h("td", {}, String(e.statusCode)),
                  ),
                ),
              ),
            ),
        truncated ? h("p", { class: "muted" }, t("truncated")) : "",
      );
    } catch (error) {
      if (mine === asked) out.replaceChildren(h("p", { class: "error", role: "alert" }, messageOf(error)));
    }
  };
  const form = h(
    "form",
    {
      id: "audit-form",
      onsubmit: (e: Event) => {
        e.preventDefault();
        void search();
      },
    },
    field(t("partnerFilter"), partner),
    field(t("purposeFilter"), purpose),
    field(t("since"), since),
    field(t("until"), until),
    h("button", { type: "submit" }, t("show")),
  );
  void search();
  return h("section", { "aria-labelledby": "audit-heading" }, h("h1", { id: "audit-heading" }, t("audit")), form, out);
}
