/**
 * The page's entry: asks the console who it acts as, lays out the bar
 * (pages, who, language) and shows the lookup page first, so a person can
 * check a device without choosing anything.
 */
import type { GetSessionResponse } from "../../gen/imeifed/console/v1/console_pb.js";
import { consoleClient, messageOf } from "./console-client.js";
import { field, h } from "./dom.js";
import { LANGUAGES, preferredLanguage, setLanguage, language, t, type Language } from "./i18n.js";
import { lookupPage, type PageContext } from "./lookup-page.js";
import { screeningPage } from "./screening-page.js";
import { reportPage } from "./report-page.js";
import { foundPage } from "./found-page.js";
import { sightingsPage } from "./sightings-page.js";
import { auditPage } from "./audit-page.js";

type PageName = "lookup" | "screening" | "report" | "found" | "sightings" | "audit";
const PAGES: Record<PageName, (ctx: PageContext) => HTMLElement> = { lookup: lookupPage, screening: screeningPage, report: reportPage, found: foundPage, sightings: sightingsPage, audit: auditPage };
/** The pages each kind of agency uses (the console serves what its principal's scopes allow). */
const PAGES_OF: Record<string, readonly PageName[]> = {
  police: ["lookup", "report", "found", "sightings"],
  customs: ["lookup", "screening", "found"],
  registry: ["audit"],
};

const client = consoleClient();
let session: GetSessionResponse | undefined;
let current: PageName = "lookup";
let actAs = "";
let leaving = new AbortController();

function actingKind(): string {
  return session?.choices.find((p) => p.id === actAs)?.kind ?? session?.defaultPrincipal?.kind ?? "";
}

function storedLanguage(): string | null {
  try {
    return localStorage.getItem("imeifed-language");
  } catch {
    return null;
  }
}

function render(): void {
  const main = document.getElementById("main")!;
  const nav = document.getElementById("nav")!;
  const pages = PAGES_OF[actingKind()] ?? ["lookup"];
  if (!pages.includes(current)) current = pages[0]!;
  nav.replaceChildren(
    ...pages.map((name) =>
      h(
        "button",
        {
          type: "button",
          id: `nav-${name}`,
          ...(name === current ? { "aria-current": "page" } : {}),
          onclick: () => {
            current = name;
            render();
            main.focus();
          },
        },
        t(name),
      ),
    ),
  );
  const who = document.getElementById("session")!;
  if (session?.pilot) {
    const select = h("select", { id: "act-as" }, ...session.choices.map((p) => h("option", { value: p.id, ...(p.id === actAs ? { selected: true } : {}) }, `${p.name} (${p.id})`)));
    select.addEventListener("change", () => {
      actAs = select.value;
      render();
      // The bar is drawn again: keep the keyboard where it was.
      document.getElementById("act-as")?.focus();
    });
    who.replaceChildren(field(t("actAs"), select));
  } else if (session?.defaultPrincipal) {
    who.textContent = `${session.defaultPrincipal.name} (${session.defaultPrincipal.id})`;
  }
  if (session?.officer) who.append(" · ", h("span", { id: "officer" }, session.officer), " ", h("a", { href: "/auth/logout", class: "sign-out" }, t("signOut")));
  const lang = h("select", { id: "language-select" }, ...(Object.entries(LANGUAGES) as [Language, string][]).map(([code, name]) => h("option", { value: code, lang: code, ...(code === language() ? { selected: true } : {}) }, name)));
  lang.addEventListener("change", () => {
    setLanguage(lang.value as Language);
    try {
      localStorage.setItem("imeifed-language", lang.value);
    } catch {
      // Private windows may refuse storage; the choice then lasts for this page only.
    }
    render();
    document.getElementById("language-select")?.focus();
  });
  document.getElementById("language")!.replaceChildren(field(t("language"), lang));
  leaving.abort();
  leaving = new AbortController();
  main.replaceChildren(PAGES[current]({ client, actAs: () => actAs, pilot: session?.pilot ?? false, signal: leaving.signal }));
}

async function start(): Promise<void> {
  setLanguage(preferredLanguage(storedLanguage(), navigator.languages ?? [navigator.language]));
  try {
    session = await client.getSession({});
    actAs = session.defaultPrincipal?.id ?? "";
  } catch (error) {
    document.getElementById("main")!.replaceChildren(h("p", { class: "error", role: "alert" }, messageOf(error)));
    return;
  }
  render();
}

void start();
