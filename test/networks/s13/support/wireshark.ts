/**
 * Wireshark's own Diameter dissector as an independent decoder: messages are
 * written to a capture with text2pcap (as TCP segments from port 3868, where
 * Wireshark looks for Diameter) and read back field by field with tshark.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Why Wireshark cannot be used here, or undefined when tshark and text2pcap both run. */
export function wiresharkMissing(): string | undefined {
  for (const tool of ["tshark", "text2pcap"]) {
    const run = spawnSync(tool, ["--version"], { stdio: "ignore" });
    if (run.error || run.status !== 0) return `${tool} is not installed (apt-get install -y tshark): Wireshark's dissector cannot check the answers`;
  }
  return undefined;
}

function hexdump(bytes: Buffer): string {
  let out = "";
  for (let offset = 0; offset < bytes.length; offset += 16) {
    const row = [...bytes.subarray(offset, offset + 16)].map((b) => b.toString(16).padStart(2, "0")).join(" ");
    out += `${offset.toString(16).padStart(6, "0")} ${row}\n`;
  }
  return out;
}

/** One row per message (one TCP segment each), one value per field (several values of a field joined with `,`). */
export function dissect(messages: readonly Buffer[], fields: readonly string[]): Record<string, string>[] {
  const dir = mkdtempSync(join(tmpdir(), "imeifed-tshark-"));
  try {
    const text = join(dir, "answers.txt");
    const pcap = join(dir, "answers.pcap");
    writeFileSync(text, messages.map(hexdump).join(""));
    execFileSync("text2pcap", ["-q", "-T", "3868,40000", text, pcap], { stdio: ["ignore", "ignore", "pipe"] });
    const out = execFileSync("tshark", ["-r", pcap, "-T", "fields", "-E", "separator=\t", "-E", "aggregator=,", ...fields.flatMap((f) => ["-e", f])], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
    return out
      .split("\n")
      .filter((line) => line.length > 0)
      .map((line) => Object.fromEntries(line.split("\t").map((value, i) => [fields[i]!, value])));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
