import assert from "node:assert/strict";
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "../../../observability/logger.js";
import { startTestGateway, type TestGateway } from "../../gateway/support/test-gateway.js";
import { startTestRegistry, type TestRegistry } from "../../support/registry-fixture.js";
import { createTestTrust, DEFAULT_TEST_PRINCIPALS, type TestTrust } from "../../support/trust-fixture.js";
import { waitFor } from "../../support/waiting.js";
import { EIR } from "./support/s13-federation.js";

/**
 * freeDiameter (Debian's freediameterd 1.2.1, an independent RFC 6733 stack
 * with no S13 application) as a base-protocol peer of the S13 EIR: its own
 * CER (it offers the relay application), watchdog and disconnect, read back
 * from its message dumps (the dbg_msg_dumps extension).
 */
const FD = { originHost: "mme.fd.test", originRealm: "fd.test" };

function freeDiameterMissing(): string | undefined {
  const run = spawnSync("freeDiameterd", ["--version"], { stdio: "ignore" });
  return run.error || run.status !== 0 ? "freeDiameterd is not installed (apt-get install -y freediameter): the freeDiameter interop test cannot run" : undefined;
}

/** Starts freeDiameterd connecting to 127.0.0.1:`port` as `identity`; its stdout is collected. */
function startFreeDiameter(dir: string, port: number, identity: { originHost: string; originRealm: string }): { child: ChildProcess; output: () => string } {
  const cert = join(dir, "cert.pem");
  const key = join(dir, "key.pem");
  execFileSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", `/CN=${identity.originHost}`], { stdio: "ignore" });
  const conf = join(dir, `${identity.originHost}.conf`);
  writeFileSync(
    conf,
    [
      `Identity = "${identity.originHost}";`,
      `Realm = "${identity.originRealm}";`,
      // It listens nowhere: it only connects to the EIR.
      "Port = 0;",
      "SecPort = 0;",
      "No_SCTP;",
      // 6 s is the shortest watchdog interval freeDiameter takes.
      "TwTimer = 6;",
      "TcTimer = 30;",
      // freeDiameter wants TLS credentials even for a peer it reaches without TLS.
      `TLS_Cred = "${cert}", "${key}";`,
      `TLS_CA = "${cert}";`,
      `ConnectPeer = "${EIR.originHost}" { ConnectTo = "127.0.0.1"; Port = ${port}; No_TLS; };`,
      'LoadExtension = "/usr/lib/freeDiameter/dbg_msg_dumps.fdx" : "0x8888";',
    ].join("\n"),
  );
  const child = spawn("freeDiameterd", ["-c", conf], { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => (output += chunk));
  return { child, output: () => output };
}

/** The message dump blocks of `output` that are `what` received from `from` (e.g. RCV 'Device-Watchdog-Answer'). */
function received(output: string, what: string): string[] {
  return output.split(/(?=\d\d:\d\d:\d\d\s+NOTI\s+(?:RCV|SND|CONNECTED))/).filter((block) => /NOTI\s+(RCV from|CONNECTED TO)/.test(block) && block.includes(`'${what}'`));
}

describe("freeDiameter as a base-protocol peer of the S13 EIR (CER/CEA, DWR/DWA, DPR/DPA)", function () {
  this.timeout(60_000);
  let trust: TestTrust;
  let gb: TestRegistry;
  let gw: TestGateway;
  let dir: string;
  const logLines: string[] = [];
  const children: ChildProcess[] = [];

  before(async function () {
    const missing = freeDiameterMissing();
    if (missing) {
      console.warn(`    skipped: ${missing}`);
      this.skip();
    }
    dir = mkdtempSync(join(tmpdir(), "imeifed-freediameter-"));
    trust = await createTestTrust([...DEFAULT_TEST_PRINCIPALS, { id: "operator-dz", kind: "operator", country: "DZ" }]);
    gb = await startTestRegistry({ country: "GB", trust });
    gw = await startTestGateway({
      trust,
      registries: [{ country: "GB", address: gb.registry.address }],
      logger: createLogger("gateway", { write: (line) => logLines.push(line) }),
      config: { networks: { s13: { listen: "127.0.0.1:0", ...EIR, peers: [{ ...FD, principal: "operator-dz" }] } } },
    });
  });
  after(async () => {
    for (const child of children) if (child.exitCode === null) child.kill("SIGKILL");
    await gw?.shutdown();
    await gb?.cleanup();
    await trust?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("opens with freeDiameter's CER, answers its DWRs with 2001, and its DPR with DPA on SIGINT", async () => {
    const fd = startFreeDiameter(dir, gw.gateway.networks.s13!.port, FD);
    children.push(fd.child);
    await waitFor("freeDiameter's STATE_OPEN", () => (/'STATE_WAITCEA'\s+-> 'STATE_OPEN'/.test(fd.output()) ? true : undefined), { timeoutMs: 10_000 });
    const [cea] = received(fd.output(), "Capabilities-Exchange-Answer");
    assert.ok(cea, fd.output());
    assert.match(cea, /'Result-Code'\(268\).*DIAMETER_SUCCESS/);
    assert.match(cea, /'Auth-Application-Id'\(258\).*16777252/);
    assert.ok(logLines.some((l) => l.includes("diameter peer connected") && l.includes("operator-dz")), "the EIR knows the peer as operator-dz");
    await waitFor("a DWA read by freeDiameter", () => (received(fd.output(), "Device-Watchdog-Answer").length > 0 ? true : undefined), { timeoutMs: 15_000 });
    assert.match(received(fd.output(), "Device-Watchdog-Answer")[0]!, /'Result-Code'\(268\).*DIAMETER_SUCCESS/);
    fd.child.kill("SIGINT");
    await waitFor("freeDiameter's exit", () => (fd.child.exitCode !== null ? true : undefined), { timeoutMs: 15_000 });
    const [dpa] = received(fd.output(), "Disconnect-Peer-Answer");
    assert.ok(dpa, `no DPA in freeDiameter's dump:\n${fd.output().slice(-3000)}`);
    assert.match(dpa, /'Result-Code'\(268\).*DIAMETER_SUCCESS/);
    assert.doesNotMatch(fd.output(), /STATE_SUSPECT/, "freeDiameter never suspected the EIR");
  });

  it("is refused with DIAMETER_UNKNOWN_PEER (3010) under an identity the EIR does not know", async () => {
    const fd = startFreeDiameter(dir, gw.gateway.networks.s13!.port, { originHost: "mme.stranger.test", originRealm: "stranger.test" });
    children.push(fd.child);
    try {
      await waitFor("the CEA freeDiameter read", () => (received(fd.output(), "Capabilities-Exchange-Answer").length > 0 ? true : undefined), { timeoutMs: 10_000 });
      assert.match(received(fd.output(), "Capabilities-Exchange-Answer")[0]!, /'Result-Code'\(268\).*(DIAMETER_UNKNOWN_PEER|3010)/);
      assert.doesNotMatch(fd.output(), /-> 'STATE_OPEN'/);
    } finally {
      fd.child.kill("SIGKILL");
    }
  });
});
