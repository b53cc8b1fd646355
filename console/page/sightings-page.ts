/**
 * Where did our stolen phones surface? (police): the agency's sightings from
 * its home registry, live, as a table and as a bar chart of countries (an SVG
 * drawn here: one chart does not need a charting library).
 */
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { SightingKind, type Sighting } from "../../gen/imeifed/v1/registry_pb.js";
import { messageOf } from "./console-client.js";
import { h } from "./dom.js";
import { t } from "./i18n.js";
import type { PageContext } from "./lookup-page.js";

/** Rows kept in the table; the chart counts every sighting. */
const TABLE_ROWS = 500;
const SVG = "http://www.w3.org/2000/svg";

function svg(tag: string, attrs: Record<string, string | number>, text?: string): SVGElement {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (text !== undefined) el.textContent = text;
  return el;
}

/** A horizontal bar per country, longest first. */
function chart(counts: Map<string, number>): SVGElement {
  const rows = [...counts].sort((a, b) => b[1] - a[1]);
  const max = Math.max(1, ...rows.map(([, n]) => n));
  const height = 24 * rows.length + 8;
  const root = svg("svg", { width: 420, height, role: "img", id: "sightings-chart", "aria-label": `${t("byCountry")}: ${rows.map(([c, n]) => `${c} ${n}`).join(", ")}` });
  rows.forEach(([country, n], i) => {
    const y = 4 + i * 24;
    root.append(svg("text", { x: 0, y: y + 15, "font-size": 14 }, country));
    root.append(svg("rect", { x: 40, y, width: Math.max(2, (320 * n) / max), height: 18, class: "chart-bar" }));
    root.append(svg("text", { x: 46 + (320 * n) / max, y: y + 15, "font-size": 14 }, String(n)));
  });
  return root;
}

function row(s: Sighting): HTMLTableRowElement {
  return h(
    "tr",
    { "data-country": s.seenInCountry },
    h("td", {}, s.seenAt ? timestampDate(s.seenAt).toISOString().slice(0, 19).replace("T", " ") : ""),
    h("td", {}, SightingKind[s.kind] ?? ""),
    h("td", {}, s.seenInCountry),
    h("td", {}, s.partnerId),
    h("td", {}, s.deviceKey),
    h("td", {}, s.caseReference),
    h("td", {}, s.found ? [s.found.location, s.found.holdingAgency, s.found.contact].filter(Boolean).join(" · ") : s.purpose),
  );
}

export function sightingsPage(ctx: PageContext): HTMLElement {
  const counts = new Map<string, number>();
  const chartBox = h("figure", { id: "chart-box" }, h("figcaption", {}, t("byCountry")));
  const body = h("tbody", {});
  const table = h("table", { id: "sightings-table" }, h("thead", {}, h("tr", {}, ...[t("seenAt"), t("kind"), t("country"), t("partner"), t("device"), t("caseColumn"), t("detail")].map((c) => h("th", { scope: "col" }, c)))), body);
  const status = h("p", { id: "sightings-status", "aria-live": "polite" }, t("noSightings"));
  void (async () => {
    try {
      for await (const { sighting } of ctx.client.watchSightings({ actAs: ctx.actAs() }, { signal: ctx.signal })) {
        if (!sighting) continue;
        counts.set(sighting.seenInCountry, (counts.get(sighting.seenInCountry) ?? 0) + 1);
        body.prepend(row(sighting));
        while (body.rows.length > TABLE_ROWS) body.lastElementChild!.remove();
        chartBox.replaceChildren(h("figcaption", {}, t("byCountry")), chart(counts));
        status.textContent = `${[...counts.values()].reduce((a, b) => a + b, 0)} · ${t("live")}`;
      }
    } catch (error) {
      if (!ctx.signal.aborted) status.replaceChildren(h("span", { class: "error", role: "alert" }, messageOf(error)));
    }
  })();
  return h("section", { "aria-labelledby": "sightings-heading" }, h("h1", { id: "sightings-heading" }, t("sightings")), status, chartBox, table);
}
