/**
 * Five real registries (four in this process, the US one as its own process
 * so a test can SIGSTOP it) and `imeifed gateway serve` as a child process
 * serving the S13 front, with an audit log, for the S13 tests.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DeviceStatus } from "../../../../gen/imeifed/v1/device_pb.js";
import { RegistryService } from "../../../../gen/imeifed/v1/registry_pb.js";
import { createClient } from "../../../../rpc/index.js";
import type { S13ConfigInput } from "../../../../networks/s13/index.js";
import { spawnGatewayProcess } from "../../../support/gateway-process.js";
import { reportRequest, spawnRegistryProcess, startTestRegistry, type RegistryProcess, type TestRegistry } from "../../../support/registry-fixture.js";
import type { ServerProcess } from "../../../support/server-process.js";
import { createTestTrust, DEFAULT_TEST_PRINCIPALS, type TestTrust } from "../../../support/trust-fixture.js";
import { MME } from "./diameter-client.js";

export const EIR = { originHost: "eir.imeifed.test", originRealm: "imeifed.test" };
/** A second operator that wants Experimental-Result 5422 for devices no registry lists. */
export const MME_EG = { originHost: "mme1.epc.mnc002.mcc602.3gppnetwork.org", originRealm: "epc.mnc002.mcc602.3gppnetwork.org" };
/** A configured peer that may connect only from 10.9.9.9. */
export const MME_ELSEWHERE = { originHost: "mme9.epc.mnc001.mcc603.3gppnetwork.org", originRealm: "epc.mnc001.mcc603.3gppnetwork.org" };

let serial = 100_000 + (process.pid % 800_000);
/** A fresh 14-digit IMEI body no test has used. */
export function freshImei(): string {
  return `35693803${String(serial++ % 1_000_000).padStart(6, "0")}`;
}

export interface S13Federation {
  trust: TestTrust;
  registries: Map<string, TestRegistry>;
  us: RegistryProcess;
  gateway: ServerProcess;
  /** The S13 port of the gateway. */
  s13Port: number;
  auditFile: string;
  dir: string;
  reportUs(imei: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startS13Federation(listed: { gb: string[]; esTracked: string[] }, s13: Partial<S13ConfigInput> = {}): Promise<S13Federation> {
  const dir = await mkdtemp(join(tmpdir(), "imeifed-s13-"));
  const trust = await createTestTrust([
    ...DEFAULT_TEST_PRINCIPALS,
    { id: "operator-dz", kind: "operator", country: "DZ", name: "a 4G network in Algeria" },
    { id: "operator-eg", kind: "operator", country: "EG", name: "a 4G network in Egypt" },
  ]);
  const registries = new Map<string, TestRegistry>();
  for (const country of ["GB", "ES", "JP", "BR"]) {
    const seed =
      country === "GB"
        ? listed.gb.map((imei) => ({ imeis: [imei] }))
        : country === "ES"
          ? listed.esTracked.map((imei) => ({ imeis: [imei], status: DeviceStatus.TRACKED }))
          : [];
    registries.set(country, await startTestRegistry({ country, trust, seed }));
  }
  const us = await spawnRegistryProcess({ country: "US", trust, db: { sqlite: join(dir, "us.sqlite") } });
  const auditFile = join(dir, "gateway-audit.sqlite");
  const gateway = await spawnGatewayProcess({
    trust,
    registries: [...[...registries.entries()].map(([country, r]) => ({ country, address: r.registry.address })), { country: "US", address: us.address }],
    config: {
      audit: { sqlite: auditFile },
      networks: {
        s13: {
          listen: "127.0.0.1:0",
          ...EIR,
          peers: [
            { ...MME, principal: "operator-dz", from: ["127.0.0.0/8"] },
            { ...MME_EG, principal: "operator-eg", onUnknown: "EQUIPMENT_UNKNOWN" },
            { ...MME_ELSEWHERE, principal: "operator-dz", from: ["10.9.9.9"] },
          ],
          budgetMs: 500,
          limits: { maxInFlightPerConnection: 64, watchdogMs: 1_000, capabilitiesTimeoutMs: 1_000, maxMessageBytes: 4_096 },
          ...s13,
        },
      },
    },
  });
  const s13Address = String(gateway.serving.s13 ?? "");
  const s13Port = Number(s13Address.slice(s13Address.lastIndexOf(":") + 1));
  const usClient = createClient(RegistryService, us.address, { metadata: trust.metadataFor("police-us", "registry-us") });
  return {
    trust,
    registries,
    us,
    gateway,
    s13Port,
    auditFile,
    dir,
    async reportUs(imei) {
      await usClient.reportDevice(reportRequest({ imeis: [imei] }));
    },
    async stop() {
      usClient.close();
      if (us.child.exitCode === null) us.child.kill("SIGCONT");
      await gateway.stop();
      await us.stop();
      for (const r of registries.values()) await r.cleanup();
      await trust.cleanup();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
