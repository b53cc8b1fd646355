/**
 * `npm run bench`: every figure the issues ask for, in one run, each against a
 * baseline measured in the same run. Prints one table and writes it as JSON
 * (bench/results/latest.json). Not a test: nothing here fails a build.
 *
 *   npm run bench                      all suites, full size
 *   npm run bench -- --quick           smaller sizes (a smoke run, figures less stable)
 *   npm run bench -- gateway auth      only the named suites
 *   npm run bench -- scale             PostgreSQL at 10M rows (runs only when named; --quick: 1M)
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";
import type { BenchFigure, BenchSuite } from "./figure.js";

type SuiteRunner = (quick: boolean) => Promise<BenchSuite>;

const SUITES: Readonly<Record<string, SuiteRunner>> = {
  "registry-import": async (quick) => (await import("./registry-import.js")).registryImportSuite(quick ? 100_000 : 1_000_000),
  auth: async (quick) => (await import("./auth.js")).authSuite(quick ? { durationMs: 1_000 } : {}),
  gateway: async (quick) => (await import("./gateway.js")).gatewaySuite(quick ? { seedRows: 2_000, durationMs: 2_000, latencyCalls: 100 } : {}),
  "registry-check": async (quick) => (await import("./registry-check.js")).registryCheckSuite(quick ? { listed: 20_000, calls: 50 } : {}),
  scale: async (quick) => (await import("./scale.js")).scaleSuite(quick ? { rows: 1_000_000, singleCalls: 500, batchCalls: 10 } : {}),
  screening: async (quick) => (await import("./screening.js")).screeningSuite(quick ? { items: 100_000, listed: 100_000 } : {}),
  codecs: async (quick) => (await import("./codecs.js")).codecsSuite(quick ? { roundMs: 100, rounds: 3 } : {}),
  eir: async (quick) => (await import("./eir.js")).eirSuite(quick ? { durationSec: 2, rounds: 1, warmUpCalls: 10_000 } : {}),
  s13: async (quick) => (await import("./s13.js")).s13Suite(quick ? { durationSec: 2, rounds: 1, warmUpSec: 2 } : {}),
  overload: async (quick) => (await import("./overload.js")).overloadSuite(quick ? { durationSec: 3, rounds: 1, warmUpCalls: 20_000 } : {}),
};

/** Suites that run only when named: `scale` imports 10 million rows and takes many minutes. */
const ON_REQUEST: ReadonlySet<string> = new Set(["scale"]);

function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Math.abs(value) >= 100) return Math.round(value).toLocaleString("en");
  return value.toPrecision(3);
}

function row(suite: string, f: BenchFigure): string[] {
  return [
    suite,
    f.name,
    `${formatNumber(f.value)} ${f.unit}`,
    f.baseline ? `${formatNumber(f.baseline.value)} ${f.baseline.unit} (${f.baseline.name})` : "",
    f.ratio === undefined ? "" : `${f.ratio.toFixed(2)}x`,
    f.goal ? `${f.goal}: ${f.met ? "met" : "NOT met"}` : "",
  ];
}

/** A Markdown table, so the output pastes into the README as it is. */
function table(suites: readonly BenchSuite[]): string {
  const rows = [["suite", "figure", "value", "baseline (same run)", "ratio", "goal"], ...suites.flatMap((s) => s.figures.map((f) => row(s.suite, f)))];
  const lines = rows.map((r) => `| ${r.join(" | ")} |`);
  lines.splice(1, 0, `|${rows[0]!.map(() => "---").join("|")}|`);
  return lines.join("\n");
}

async function main(argv: string[]): Promise<void> {
  const quick = argv.includes("--quick");
  const named = argv.filter((a) => !a.startsWith("--"));
  const unknown = named.filter((n) => !SUITES[n]);
  if (unknown.length > 0) throw new Error(`unknown suite(s) ${unknown.join(", ")}; known: ${Object.keys(SUITES).join(", ")}`);
  const chosen = named.length > 0 ? named : Object.keys(SUITES).filter((n) => !ON_REQUEST.has(n));
  const machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? "unknown", memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, platform: process.platform };
  console.error(`imeifed bench on ${machine.cpus} x ${machine.cpuModel}, ${machine.memoryGiB} GiB, Node ${machine.node}${quick ? " (quick)" : ""}`);
  const suites: BenchSuite[] = [];
  for (const name of chosen) {
    const started = Date.now();
    console.error(`-- ${name} ...`);
    suites.push(await SUITES[name]!(quick));
    console.error(`-- ${name} done in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  }
  console.log(table(suites));
  const dir = join(import.meta.dirname, "results");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, "latest.json");
  writeFileSync(file, `${JSON.stringify({ at: new Date().toISOString(), quick, machine, suites }, null, 2)}\n`);
  console.error(`written ${file}`);
}

await main(process.argv.slice(2));
