/**
 * The pilot federation as a user starts it: `imeifed demo` as a child process
 * (five registries and a gateway, each its own process, on free ports), for
 * tests that drive it with the real commands.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import type { DemoManifest } from "../../demo/run-demo.js";

const BIN = resolve(import.meta.dirname, "../../cli/bin.js");

export interface PilotProcess {
  readonly dir: string;
  /** The `imeifed demo` process. */
  readonly demo: ChildProcess;
  /** Its demo.json. */
  readonly manifest: DemoManifest;
  /** Stops it (Ctrl-C, then SIGKILL for anything left) and removes its directory. */
  stop(): Promise<void>;
}

/** Whether process `pid` still runs. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Starts the pilot with `records` synthetic records per registry and waits until it says what to try. */
export async function startPilot(records: number): Promise<PilotProcess> {
  const dir = await mkdtemp(join(tmpdir(), "imeifed-demo-"));
  const demo = spawn(process.execPath, [BIN, "demo", "--dir", dir, "--records", String(records), "--gateway", "127.0.0.1:0", "--eir", "127.0.0.1:0", "--s13", "127.0.0.1:0", "--registry-port-base", "auto", "--console", "127.0.0.1:0"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  const output: string[] = [];
  createInterface({ input: demo.stderr! }).on("line", (line) => output.push(line));
  let manifest: DemoManifest | undefined;
  const stop = async () => {
    if (demo.exitCode === null && demo.signalCode === null) {
      const exited = once(demo, "exit");
      demo.kill("SIGINT");
      await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
      if (demo.exitCode === null && demo.signalCode === null) demo.kill("SIGKILL");
    }
    for (const pid of Object.values(manifest?.processes ?? {})) if (alive(pid)) process.kill(pid, "SIGKILL");
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await new Promise<void>((ready, fail) => {
      demo.once("exit", (code) => fail(new Error(`demo exited with ${code}:\n${output.join("\n")}`)));
      createInterface({ input: demo.stdout! }).on("line", (line) => {
        output.push(line);
        if (line.includes("Ctrl-C stops every process")) ready();
      });
    });
    demo.removeAllListeners("exit");
    manifest = JSON.parse(await readFile(join(dir, "demo.json"), "utf8")) as DemoManifest;
  } catch (error) {
    await stop();
    throw error;
  }
  return { dir, demo, manifest, stop };
}
