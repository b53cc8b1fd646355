/**
 * For the browser tests: the real pilot federation (`imeifed demo`: five
 * registries and a gateway, each its own process) with its console, and
 * Debian's Chromium driven by playwright-core.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { chromium, type Browser, type Page } from "playwright-core";
import type { DemoManifest } from "../../demo/run-demo.js";

export const CHROMIUM = "/usr/bin/chromium";

export interface PilotFederation {
  readonly dir: string;
  readonly manifest: DemoManifest;
  stop(): Promise<void>;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export async function startPilot(records = 400): Promise<PilotFederation> {
  const dir = await mkdtemp(join(tmpdir(), "imeifed-console-pilot-"));
  const demo: ChildProcess = spawn(
    process.execPath,
    ["cli/bin.js", "demo", "--dir", dir, "--records", String(records), "--gateway", "127.0.0.1:0", "--registry-port-base", "auto", "--console", "127.0.0.1:0"],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  const output: string[] = [];
  createInterface({ input: demo.stderr! }).on("line", (line) => output.push(line));
  await new Promise<void>((resolve, reject) => {
    demo.once("exit", (code) => reject(new Error(`demo exited with ${code}:\n${output.join("\n")}`)));
    createInterface({ input: demo.stdout! }).on("line", (line) => {
      output.push(line);
      if (line.includes("Ctrl-C stops every process")) resolve();
    });
  });
  demo.removeAllListeners("exit");
  const manifest = JSON.parse(await readFile(join(dir, "demo.json"), "utf8")) as DemoManifest;
  return {
    dir,
    manifest,
    async stop() {
      if (demo.exitCode === null && demo.signalCode === null) {
        demo.kill("SIGKILL");
        for (const pid of Object.values(manifest.processes)) if (alive(pid)) process.kill(pid, "SIGKILL");
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
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
