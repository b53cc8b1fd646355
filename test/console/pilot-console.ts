/**
 * For the browser tests: the real pilot federation (`imeifed demo`: five
 * registries and a gateway, each its own process) with its console, and
 * Debian's Chromium driven by playwright-core.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { startPilot as startSharedPilot, type PilotProcess } from "../support/pilot-process.js";

export const CHROMIUM = "/usr/bin/chromium";

/** The pilot federation the console tests drive (test/support/pilot-process.ts, shared with the pilot's and the CLI's tests). */
export type PilotFederation = PilotProcess;

/** The pilot with its console on a free port (every port free: the tests never take a user's pilot ports). */
export function startPilot(records = 400): Promise<PilotFederation> {
  return startSharedPilot(records);
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
}

/** Runs axe-core in the page and returns its serious and critical violations. */
export async function seriousViolations(page: Page): Promise<{ id: string; help: string; nodes: string[] }[]> {
  const axeSource = await readFile(join(process.cwd(), "node_modules/axe-core/axe.min.js"), "utf8");
  // Evaluated through the DevTools protocol: the console's CSP (rightly) refuses an injected <script>.
  await page.evaluate(axeSource);
  return page.evaluate(async () => {
    const axe = (globalThis as unknown as { axe: { run(): Promise<{ violations: { id: string; impact: string; help: string; nodes: { target: string[] }[] }[] }> } }).axe;
    const result = await axe.run();
    return result.violations.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => ({ id: v.id, help: v.help, nodes: v.nodes.map((n) => n.target.join(" ")) }));
  });
}
