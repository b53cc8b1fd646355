/**
 * Report a found device (police, customs): the gateway routes it to every
 * registry that holds an open record for it, which tells the reporting agency.
 */
import { UnansweredReason } from "../../gen/imeifed/v1/federation_pb.js";
import { messageOf } from "./console-client.js";
import { field, h } from "./dom.js";
import { t } from "./i18n.js";
import type { PageContext } from "./lookup-page.js";

export function foundPage(ctx: PageContext): HTMLElement {
  const imei = h("input", { name: "imei", required: true, autocomplete: "off", inputmode: "numeric", size: "20" });
  const location = h("input", { name: "location", required: true, size: "20" });
  const holding = h("input", { name: "holding", required: true, size: "20" });
  const contact = h("input", { name: "contact", required: true, size: "20" });
  const note = h("input", { name: "note", size: "20" });
  const purpose = h("input", { name: "purpose", required: true, size: "14" });
  if (ctx.pilot) purpose.value = "PILOT-1";
  const out = h("div", { id: "found-out", "aria-live": "polite" });
  const form = h(
    "form",
    {
      id: "found-form",
      onsubmit: async (e: Event) => {
        e.preventDefault();
        try {
          const { answer } = await ctx.client.reportFound({
            imei: imei.value,
            purpose: purpose.value,
            found: { location: location.value, holdingAgency: holding.value, contact: contact.value, note: note.value },
            actAs: ctx.actAs(),
          });
          const notified = answer?.notifiedCountries ?? [];
          out.replaceChildren(
            h("p", { role: "status", id: "found-notified" }, notified.length > 0 ? `${t("notified")}: ${notified.join(", ")}` : t("noneNotified")),
            ...((answer?.unanswered ?? []).length === 0 ? [] : [h("p", { id: "found-unanswered" }, `${t("notAnswered")}: ${answer!.unanswered.map((u) => `${u.country} (${UnansweredReason[u.reason] ?? ""})`).join(", ")}`)]),
          );
        } catch (error) {
          out.replaceChildren(h("p", { class: "error", role: "alert" }, messageOf(error)));
        }
      },
    },
    field(t("imei"), imei),
    field(t("location"), location),
    field(t("holdingAgency"), holding),
    field(t("contact"), contact),
    field(t("note"), note),
    field(t("purpose"), purpose),
    h("button", { type: "submit" }, t("submitFound")),
  );
  return h("section", { "aria-labelledby": "found-heading" }, h("h1", { id: "found-heading" }, t("found")), form, out);
}
