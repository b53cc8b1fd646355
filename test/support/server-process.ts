/**
 * An `imeifed ... serve` command as a child process, for tests that need a
 * real server process (kill -9, restart, its own descriptors): started,
 * waited for until it prints its JSON "serving" line, and taken down again.
 * registry-fixture.ts and gateway-process.ts start theirs through it.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readdirSync } from "node:fs";
import { resolve } from "node:path";
import { createInterface } from "node:readline";

export interface ServerProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** The address it printed when serving. */
  readonly address: string;
  /** The whole serving line it printed. */
  readonly serving: Readonly<Record<string, unknown>>;
  /** Everything it wrote to stderr so far (for failure messages). */
  stderr(): string;
  /** Everything it wrote to stdout so far (its JSON log lines). */
  stdout(): string;
  /** Resolves with the exit code and signal once it has exited. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** File descriptors it holds open now (read from /proc). */
  openDescriptors(): number;
  /** SIGKILL, and wait for the exit. */
  kill(): Promise<void>;
  /** SIGTERM, and wait for the exit; resolves to the exit code. */
  stop(): Promise<number | null>;
}

const CLI = resolve(import.meta.dirname, "../../cli/bin.js");

/** Runs `node cli/bin.js ...args` and waits (up to 30 s) until it prints a JSON line whose `msg` is `servingMessage`. */
export async function spawnServerProcess(args: readonly string[], servingMessage: string): Promise<ServerProcess> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolveExit) => {
    child.once("exit", (code, signal) => resolveExit({ code, signal }));
  });
  let stdout = "";
  const lines = createInterface({ input: child.stdout! });
  lines.on("line", (line) => (stdout += `${line}\n`));
  const ready = new Promise<Record<string, unknown> & { address: string }>((resolveReady, reject) => {
    lines.on("line", (line) => {
      try {
        const message = JSON.parse(line) as { msg?: string; address?: string };
        if (message.msg === servingMessage && message.address) resolveReady(message as Record<string, unknown> & { address: string });
      } catch {
        // Not a JSON line: ignore.
      }
    });
    void exited.then(({ code, signal }) => reject(new Error(`${args.slice(0, 2).join(" ")} exited (code ${code}, signal ${signal}) before serving:\n${stderr}`)));
  });
  const timeout = setTimeout(() => child.kill("SIGKILL"), 30_000);
  try {
    const serving = await ready;
    return {
      child,
      pid: child.pid!,
      address: serving.address,
      serving,
      stderr: () => stderr,
      stdout: () => stdout,
      exited,
      openDescriptors: () => readdirSync(`/proc/${child.pid}/fd`).length,
      async kill() {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
        await exited;
      },
      async stop() {
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
        return (await exited).code;
      },
    };
  } catch (error) {
    child.kill("SIGKILL");
    await exited;
    throw error;
  } finally {
    clearTimeout(timeout);
  }
}
