/**
 * Runs the pilot's processes (five registries and a gateway), each as its own
 * `imeifed ... serve` child, waits for each one's "serving" line, and stops
 * them all cleanly (SIGTERM, then SIGKILL after a grace period).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Code, ImeifedError } from "../errors/index.js";

const CLI = fileURLToPath(new URL("../cli/bin.js", import.meta.url));

export interface ServingLine {
  readonly address: string;
  readonly pid: number;
  readonly [field: string]: unknown;
}

export interface SupervisedProcess {
  readonly name: string;
  readonly child: ChildProcess;
  readonly serving: ServingLine;
}

export class Supervisor {
  readonly #processes: SupervisedProcess[] = [];
  #stopping: Promise<void> | undefined;

  constructor(private readonly options: { logLine?: (name: string, line: string) => void } = {}) {}

  get processes(): readonly SupervisedProcess[] {
    return this.#processes;
  }

  /** Starts `imeifed <args>` and resolves with its "serving" line, or rejects with what it printed before exiting. */
  async start(name: string, args: string[], timeoutMs = 60_000): Promise<SupervisedProcess> {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ["ignore", "pipe", "pipe"] });
    const tail: string[] = [];
    const remember = (line: string) => {
      tail.push(line);
      if (tail.length > 20) tail.shift();
      this.options.logLine?.(name, line);
    };
    createInterface({ input: child.stderr! }).on("line", remember);
    const lines = createInterface({ input: child.stdout! });
    const serving = await new Promise<ServingLine>((resolve, reject) => {
      const timer = setTimeout(() => fail(`did not start within ${timeoutMs} ms`), timeoutMs);
      const fail = (why: string) => {
        clearTimeout(timer);
        child.kill("SIGKILL");
        reject(new ImeifedError(Code.UNAVAILABLE, "DEMO_PROCESS_FAILED", `${name} ${why}:\n${tail.join("\n")}`));
      };
      child.once("exit", (code, signal) => fail(`exited (${signal ?? code}) before serving`));
      lines.on("line", (line) => {
        remember(line);
        try {
          const parsed = JSON.parse(line) as Partial<ServingLine> & { msg?: string };
          if (typeof parsed.msg === "string" && parsed.msg.endsWith("serving") && typeof parsed.address === "string") {
            clearTimeout(timer);
            child.removeAllListeners("exit");
            resolve(parsed as ServingLine);
          }
        } catch {
          // Not a JSON line: keep it for the error message.
        }
      });
    });
    const supervised = { name, child, serving };
    this.#processes.push(supervised);
    return supervised;
  }

  /** Stops every process: SIGTERM, then SIGKILL after `graceMs`. Resolves when all have exited. */
  stopAll(graceMs = 5_000): Promise<void> {
    this.#stopping ??= (async () => {
      // The gateway first, so nothing calls a registry that is going away.
      const order = [...this.#processes].reverse();
      for (const { child } of order) {
        if (child.exitCode !== null || child.signalCode !== null) continue;
        const exited = once(child, "exit");
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
        await exited;
        clearTimeout(timer);
      }
    })();
    return this.#stopping;
  }
}
