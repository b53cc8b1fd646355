import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { decodeJwt, decodeProtectedHeader } from "jose";
import ExcelJS from "exceljs";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { CSV_SIGNATURE_PREFIX } from "../../console/server/report-signature.js";
import { consoleConfigFrom } from "../../console/server/console-config.js";
import { startConsole, type RunningConsole } from "../../console/server/console-server.js";
import { unlistedImei } from "../../demo/synthetic-records.js";
import { keyFileNames } from "../../trust/keys.js";
import { FederationService } from "../../gen/imeifed/v1/federation_pb.js";
import { Code, ImeifedError } from "../../errors/index.js";
import { createClient, hosted, startHost, type RunningHost } from "../../rpc/index.js";
import { TokenMinter } from "../../trust/token-minter.js";
import { readPrivateJwk } from "../../trust/keys.js";
import { launchChromium, seriousViolations, startPilot, type PilotFederation } from "./pilot-console.js";

const DOCS = join(process.cwd(), "docs");

/** A 200,000-item manifest: unlisted devices, with one stolen device at line 1001. */
function bigManifest(stolen: string, items = 200_000): Buffer {
  const lines = ["device_id,declared_make,declared_model"];
  for (let i = 0; i < items; i++) lines.push(i === 999 ? `${stolen},,` : `${unlistedImei(i + 10)},,`);
  return Buffer.from(lines.join("\n") + "\n");
}

describe("the console in a real browser, against the pilot federation", function () {
  this.timeout(180_000);
  let pilot: PilotFederation;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;

  before(async () => {
    [pilot, browser] = await Promise.all([startPilot(), launchChromium()]);
  });
  after(async () => {
    await browser?.close();
    await pilot?.stop();
  });
  beforeEach(async () => {
    context = await browser.newContext({ locale: "en-GB", acceptDownloads: true });
    page = await context.newPage();
  });
  afterEach(async () => {
    await context?.close();
  });

  it("looks up a stolen device with the keyboard alone: verdict, finding, attestation verified in the browser, no serious accessibility violation", async () => {
    const stolen = pilot.manifest.samples.prohibited[0]!;
    await page.goto(pilot.manifest.console.url);
    // The IMEI field has the focus on arrival; the case reference is filled in pilot mode.
    await page.locator("#lookup-form input[name=imei]:focus").waitFor();
    await page.keyboard.type(stolen);
    await page.keyboard.press("Tab");
    await page.keyboard.press("Tab");
    await page.keyboard.press("Enter");
    await page.locator("#verdict").waitFor();
    assert.equal(await page.locator("#verdict").innerText(), "PROHIBITED");
    const row = page.locator("#findings tbody tr").first();
    assert.match(await row.innerText(), /PROHIBITED\s+STOLEN/);
    assert.equal(await row.locator(".attestation").innerText(), "signature verified");
    assert.notEqual(await page.locator("#make-model").innerText(), "—");
    await page.screenshot({ path: join(DOCS, "console-lookup.png"), fullPage: true });
    const download = page.waitForEvent("download");
    await page.locator("#download-evidence").focus();
    await page.keyboard.press("Enter");
    const evidence = JSON.parse(await readFile(await (await download).path(), "utf8")) as { answer: { verdict: string }; attestationChecks: { verified: boolean }[] };
    assert.equal(evidence.answer.verdict, "VERDICT_PROHIBITED");
    assert.ok(evidence.attestationChecks.length > 0 && evidence.attestationChecks.every((c) => c.verified));
    assert.deepEqual(await seriousViolations(page), []);
  });

  it("speaks the browser's language and switches on request (Spanish, then Japanese)", async () => {
    const es = await browser.newContext({ locale: "es-ES" });
    try {
      const p = await es.newPage();
      await p.goto(pilot.manifest.console.url);
      await p.getByRole("heading", { name: "Consultar un dispositivo" }).waitFor();
      await p.getByLabel("IMEI o IMEISV").fill(pilot.manifest.samples.permitted.at(-1)!);
      await p.getByRole("button", { name: "Consultar", exact: true }).click();
      await p.getByText("Ningún registro incluye este dispositivo.").waitFor();
      await p.getByLabel("Idioma").selectOption("ja");
      await p.getByRole("heading", { name: "端末の照会" }).waitFor();
      assert.equal(await p.evaluate(() => document.documentElement.lang), "ja");
      assert.deepEqual(await seriousViolations(p), []);
    } finally {
      await es.close();
    }
  });

  it("screens a 200,000-item manifest: the progress bar advances, the finding is listed and filterable, HOLD, and the signed reports download", async () => {
    const stolen = pilot.manifest.samples.prohibited[0]!;
    await page.goto(pilot.manifest.console.url);
    await page.locator("#nav-screening").click();
    await page.getByLabel("Manifest file (CSV or Excel)").setInputFiles({ name: "shipment.csv", mimeType: "text/csv", buffer: bigManifest(stolen) });
    await page.getByLabel("Declaration reference").fill("DEC-BIG-1");
    // Sample the bar while it runs, from inside the page so no sample is missed between round trips.
    await page.evaluate(() => {
      const seen: number[] = [];
      (globalThis as unknown as { progressSeen: number[] }).progressSeen = seen;
      const bar = document.getElementById("screening-progress") as HTMLProgressElement;
      new MutationObserver(() => seen.push(bar.value)).observe(bar, { attributes: true });
    });
    await page.getByRole("button", { name: "Screen", exact: true }).click();
    await page.locator("#decision").waitFor({ timeout: 120_000 });
    const seen = await page.evaluate(() => (globalThis as unknown as { progressSeen: number[] }).progressSeen);
    const between = [...new Set(seen.filter((v) => v > 0 && v < 1))];
    assert.ok(between.length >= 2, `the bar showed intermediate values ${JSON.stringify(seen)}`);
    assert.match(await page.locator("#progress-text").innerText(), /200,000 \/ 200,000 · [\d,]+ items\/s/);
    assert.equal(await page.locator("#decision").innerText(), "HOLD");
    const rows = page.locator("#screening-findings tbody tr");
    assert.equal(await rows.count(), 1);
    assert.match(await rows.first().innerText(), /line 1001\s+\d+\s+PROHIBITED/);
    await page.getByLabel("Show outcome").selectOption("MALFORMED");
    assert.equal(await rows.first().isHidden(), true);
    await page.getByLabel("Show outcome").selectOption("PROHIBITED");
    assert.equal(await rows.first().isVisible(), true);
    await page.screenshot({ path: join(DOCS, "console-screening.png"), fullPage: true });

    const csvDownload = page.waitForEvent("download");
    await page.locator("#report-csv").click();
    const csv = await readFile(await (await csvDownload).path(), "utf8");
    const signatureLine = csv.trimEnd().split("\n").at(-1)!;
    assert.ok(signatureLine.startsWith(CSV_SIGNATURE_PREFIX));
    const jws = signatureLine.slice(CSV_SIGNATURE_PREFIX.length);
    assert.equal(decodeProtectedHeader(jws).typ, "imeifed-report+jwt");
    const claims = decodeJwt(jws);
    assert.equal(claims.iss, "customs-gb");
    assert.equal(claims.decision, "HOLD");
    const { createHash } = await import("node:crypto");
    const signed = csv.slice(0, csv.lastIndexOf(CSV_SIGNATURE_PREFIX));
    assert.equal(claims.sha256, createHash("sha256").update(signed).digest("hex"));
    assert.match(signed, /PROHIBITED/);
    const jsonDownload = page.waitForEvent("download");
    await page.locator("#report-json").click();
    const json = JSON.parse(await readFile(await (await jsonDownload).path(), "utf8")) as { signature: string; report: { summary: { decision: string } } };
    assert.equal(json.report.summary.decision, "SCREENING_DECISION_HOLD");
    assert.equal(decodeJwt(json.signature).format, "json");
    assert.deepEqual(await seriousViolations(page), []);
  });

  it("screens an Excel workbook (the manifest reader's xlsx path): the stolen device and the made-up IMEI found, the dual-SIM line clear", async () => {
    const workbook = new ExcelJS.Workbook();
    workbook.addWorksheet("Manifest").addRows([
      ["Line Ref", "IMEI 1", "IMEI 2", "Brand"],
      ["A-1", pilot.manifest.samples.prohibited[1]!, "", ""],
      ["A-2", unlistedImei(7001), unlistedImei(7002), ""],
      ["A-3", "123456789012345", "", ""],
    ]);
    const xlsx = Buffer.from(await workbook.xlsx.writeBuffer());
    await page.goto(pilot.manifest.console.url);
    await page.locator("#nav-screening").click();
    await page.getByLabel("Manifest file (CSV or Excel)").setInputFiles({ name: "shipment.xlsx", mimeType: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", buffer: xlsx });
    await page.getByRole("button", { name: "Screen", exact: true }).click();
    await page.locator("#decision").waitFor({ timeout: 60_000 });
    assert.equal(await page.locator("#decision").innerText(), "HOLD");
    const outcomes = await page.locator("#screening-findings tbody tr").evaluateAll((rows) => rows.map((r) => `${r.children[0]!.textContent} ${(r as HTMLElement).dataset.outcome}`));
    assert.deepEqual(outcomes.sort(), ["A-1 PROHIBITED", "A-3 MALFORMED"]);
    assert.match(await page.locator("#progress-text").innerText(), /^4 \/ 4 /);
  });

  it("screens in Brazilian Portuguese, chosen from the browser's language", async () => {
    const pt = await browser.newContext({ locale: "pt-BR" });
    try {
      const p = await pt.newPage();
      await p.goto(pilot.manifest.console.url);
      await p.getByRole("button", { name: "Inspecionar uma remessa" }).click();
      const manifest = ["IMEI", pilot.manifest.samples.tracked[0]!, unlistedImei(8001)].join("\n");
      await p.getByLabel("Manifesto (CSV ou Excel)").setInputFiles({ name: "remessa.csv", mimeType: "text/csv", buffer: Buffer.from(manifest) });
      await p.getByLabel("Referência da declaração").fill("DU-E 26BR0001");
      await p.getByRole("button", { name: "Inspecionar", exact: true }).click();
      await p.locator("#decision").waitFor({ timeout: 60_000 });
      assert.equal(await p.locator("#decision").innerText(), "HOLD");
      assert.equal(await p.locator("#screening-findings tbody tr").getAttribute("data-outcome"), "TRACKED");
      await p.getByRole("button", { name: "Baixar relatório assinado (CSV)" }).waitFor();
      assert.deepEqual(await seriousViolations(p), []);
    } finally {
      await pt.close();
    }
  });

  it("refuses a bad manifest, naming its line", async () => {
    await page.goto(pilot.manifest.console.url);
    await page.locator("#nav-screening").click();
    const bad = `device_id,declared_make\n${unlistedImei(1)},Apple\n"${unlistedImei(2)},Apple\n${unlistedImei(3)},Apple\n`;
    await page.getByLabel("Manifest file (CSV or Excel)").setInputFiles({ name: "broken.csv", mimeType: "text/csv", buffer: Buffer.from(bad) });
    await page.getByRole("button", { name: "Screen", exact: true }).click();
    const error = await page.locator("#screening-error").innerText();
    assert.match(error, /^broken\.csv: .*line 3/);
    assert.equal(await page.locator("#decision").count(), 0);
  });

  describe("behind a gateway that alters attestations", () => {
    let proxy: RunningHost;
    let forgedConsole: RunningConsole;

    before(async () => {
      const minter = new TokenMinter({ issuer: "customs-gb", privateJwk: await readPrivateJwk(join(pilot.dir, "keys", keyFileNames("customs-gb").privateJwk)) });
      const upstream = createClient(FederationService, pilot.manifest.gateway, { metadata: minter.metadata({ audience: "gateway", scopes: ["devices:check"] }) });
      const refuse = async (): Promise<never> => {
        throw new ImeifedError(Code.UNIMPLEMENTED, "UNIMPLEMENTED", "not on this proxy");
      };
      proxy = await startHost({
        listen: "127.0.0.1:0",
        services: [
          hosted(FederationService, {
            async lookup(request) {
              const answer = await upstream.lookup(request, { deadline: 10_000 });
              // The registry said "verified" and signed it; this gateway claims otherwise and keeps the signature.
              for (const f of answer.findings) if (f.finding) f.finding.verified = !f.finding.verified;
              return answer;
            },
            getRegistryKeys: (request) => upstream.getRegistryKeys(request, { deadline: 10_000 }),
            screen: refuse as never,
            reportFound: refuse,
            watchStolen: refuse as never,
          }),
        ],
      });
      const config = await consoleConfigFrom(
        { listen: "127.0.0.1:0", gateway: { address: proxy.address }, principals: [{ id: "customs-gb", kind: "customs", country: "GB", key: join("keys", keyFileNames("customs-gb").privateJwk) }] },
        pilot.dir,
      );
      forgedConsole = await startConsole(config, { log: () => {} });
    });
    after(async () => {
      await forgedConsole?.close();
      await proxy?.shutdown(0);
    });

    it("shows the altered finding as not verified", async () => {
      await page.goto(forgedConsole.url);
      await page.getByLabel("IMEI or IMEISV").fill(pilot.manifest.samples.prohibited[0]!);
      await page.getByLabel("Case reference").fill("CASE-9");
      await page.getByRole("button", { name: "Check", exact: true }).click();
      const cell = page.locator("#findings tbody tr .attestation").first();
      await cell.waitFor();
      assert.match(await cell.innerText(), /^NOT verified: the signed claims differ from what was shown: verified/);
      await page.screenshot({ path: join(DOCS, "console-forged-attestation.png"), fullPage: true });
    });
  });

  describe("police: report, found, sightings, clear", () => {
    const imei = unlistedImei(9001);

    it("police-es reports a theft to its registry, customs reports the device found, police-es sees where it surfaced (live), then clears its case", async () => {
      await page.goto(pilot.manifest.console.url);
      await page.getByLabel("Act as").selectOption("police-es");
      await page.locator("#nav-report").click();
      await page.getByLabel("IMEI or IMEISV").fill(imei);
      await page.getByLabel("Case reference").fill("CASE-ES-77");
      await page.getByLabel("Crime reference (makes the report verified)").fill("CR-2026-77");
      await page.getByRole("button", { name: "Report", exact: true }).click();
      await page.locator("#report-done").waitFor();
      const filed = page.locator("#reports-table tr[data-case=CASE-ES-77]");
      assert.match(await filed.innerText(), /PROHIBITED\s+STOLEN\s+yes/);

      // The sightings page is open (streaming) while customs, in another tab, finds the phone.
      await page.locator("#nav-sightings").click();
      await page.locator("#sightings-status").waitFor();
      const customs = await context.newPage();
      await customs.goto(pilot.manifest.console.url);
      await customs.getByLabel("IMEI or IMEISV").fill(imei);
      await customs.getByRole("button", { name: "Check", exact: true }).click();
      await customs.locator("#verdict").waitFor();
      assert.equal(await customs.locator("#verdict").innerText(), "PROHIBITED");
      assert.equal(await customs.locator("#findings tr[data-country=ES] .attestation").innerText(), "signature verified");
      await customs.locator("#nav-found").click();
      await customs.getByLabel("IMEI or IMEISV").fill(imei);
      await customs.getByLabel("Where it was found").fill("Heathrow cargo shed 4");
      await customs.getByLabel("Who holds it").fill("Border Force");
      await customs.getByLabel("How to reach them").fill("+44 20 0000 0000");
      await customs.getByRole("button", { name: "Send found report", exact: true }).click();
      assert.equal(await customs.locator("#found-notified").innerText(), "Registries notified: ES");
      await customs.screenshot({ path: join(DOCS, "console-found.png"), fullPage: true });
      await customs.close();

      const found = page.locator("#sightings-table tr", { hasText: "FOUND" });
      await found.first().waitFor({ timeout: 20_000 });
      assert.match(await found.first().innerText(), /FOUND\s+GB\s+customs-gb/);
      assert.match(await found.first().innerText(), /Heathrow cargo shed 4/);
      assert.match((await page.locator("#sightings-chart").getAttribute("aria-label")) ?? "", /GB \d+/);
      await page.screenshot({ path: join(DOCS, "console-sightings.png"), fullPage: true });
      assert.deepEqual(await seriousViolations(page), []);

      await page.locator("#nav-report").click();
      await filed.waitFor();
      await page.getByRole("button", { name: "Clear CASE-ES-77" }).click();
      await page.locator("#reports-table tr[data-case=CASE-ES-77] .cleared", { hasText: "RECOVERED" }).waitFor();
      await page.screenshot({ path: join(DOCS, "console-report.png"), fullPage: true });
      await page.locator("#nav-lookup").click();
      await page.getByLabel("IMEI or IMEISV").fill(imei);
      await page.getByRole("button", { name: "Check", exact: true }).click();
      await page.locator("#verdict").waitFor();
      assert.equal(await page.locator("#verdict").innerText(), "PERMITTED");
    });

    it("the Spanish registry's administrator sees customs-gb's questions in its audit, filtered by partner and purpose", async () => {
      await page.goto(pilot.manifest.console.url);
      await page.getByLabel("Act as").selectOption("registry-es");
      await page.getByRole("heading", { name: "Who asked about our records?" }).waitFor();
      await page.getByLabel("Partner (principal id)").fill("customs-gb");
      await page.getByLabel("Purpose contains").fill("pilot-1");
      const rows = page.locator("#audit-table tbody tr");
      // The registry writes its audit a moment after answering: ask again until the entries are there.
      for (let i = 0; i < 20; i++) {
        await page.getByRole("button", { name: "Show", exact: true }).click();
        await page.locator("#audit-table, #audit-empty").first().waitFor();
        await page.waitForTimeout(250);
        if ((await rows.count()) > 0) break;
      }
      assert.ok((await rows.count()) > 0);
      for (const text of await rows.allInnerTexts()) assert.match(text, /customs-gb\s+gateway\s+\S*PILOT-1/i);
      await page.getByLabel("Partner (principal id)").fill("police-jp");
      await page.getByRole("button", { name: "Show", exact: true }).click();
      await page.locator("#audit-empty").waitFor();
      await page.getByLabel("Partner (principal id)").fill("customs-gb");
      await page.getByRole("button", { name: "Show", exact: true }).click();
      await rows.first().waitFor();
      await page.screenshot({ path: join(DOCS, "console-audit.png"), fullPage: true });
      assert.deepEqual(await seriousViolations(page), []);
    });
  });

  describe("with a registry down", () => {
    before(() => {
      process.kill(pilot.manifest.processes["registry-us"]!, "SIGKILL");
    });

    it("the lookup page names the country that did not answer", async () => {
      await page.goto(pilot.manifest.console.url);
      await page.getByLabel("IMEI or IMEISV").fill(pilot.manifest.samples.permitted.at(-1)!);
      await page.getByRole("button", { name: "Check", exact: true }).click();
      await page.locator("#verdict").waitFor({ timeout: 20_000 });
      assert.equal(await page.locator("#verdict").innerText(), "UNKNOWN");
      assert.match(await page.locator("#unanswered tr[data-country=US]").innerText(), /US\s+(UNAVAILABLE|DEADLINE|CIRCUIT_OPEN)/);
      await page.screenshot({ path: join(DOCS, "console-registry-down.png"), fullPage: true });
    });

    it("the screening page says HOLD and why", async () => {
      await page.goto(pilot.manifest.console.url);
      await page.locator("#nav-screening").click();
      const clean = ["device_id", ...Array.from({ length: 50 }, (_, i) => unlistedImei(500 + i))].join("\n");
      await page.getByLabel("Manifest file (CSV or Excel)").setInputFiles({ name: "clean.csv", mimeType: "text/csv", buffer: Buffer.from(clean) });
      await page.getByRole("button", { name: "Screen", exact: true }).click();
      await page.locator("#decision").waitFor({ timeout: 60_000 });
      assert.equal(await page.locator("#decision").innerText(), "HOLD");
      assert.match(await page.locator("#hold-why").innerText(), /did not answer: .*US \(/);
    });
  });
});
