import { readFileSync } from "node:fs";

/** CPU seconds (user + system) a process has used so far (Linux /proc); 0 where unavailable. */
export function cpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").replace(/^.*\) /, "").split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return 0;
  }
}
