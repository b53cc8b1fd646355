/**
 * Two real servers on loopback ports, as in the federation: an upstream one
 * (FederationService, the gateway's shape) whose Lookup calls a downstream
 * one (RegistryService, a registry's shape) through a traced client. The
 * handlers are test doubles; the servers, sockets, interceptors and clients
 * are the real ones.
 */
import type { DescService } from "@bufbuild/protobuf";
import { FederationService, Verdict } from "../../gen/imeifed/v1/federation_pb.js";
import { DeviceStatus } from "../../gen/imeifed/v1/device_pb.js";
import { RegistryService } from "../../gen/imeifed/v1/registry_pb.js";
import { requireDevice } from "../../device/index.js";
import { Code, ImeifedError } from "../../errors/index.js";
import { createClient, hosted, startHost, type Client, type RunningHost, type ServerInterceptor, type ServiceImpl } from "../../rpc/index.js";
import { clientTracing, metrics, recordDevice, serverTracing } from "../../observability/index.js";

/** Every method of `service` answering UNIMPLEMENTED, to override the ones a test needs. */
export function unimplemented<S extends DescService>(service: S): ServiceImpl<S> {
  const impl: Record<string, unknown> = {};
  for (const method of service.methods) {
    const refuse = () => new ImeifedError(Code.UNIMPLEMENTED, "UNIMPLEMENTED", `${method.name} is not part of this test`);
    impl[method.localName] =
      method.methodKind === "unary" || method.methodKind === "client_streaming"
        ? async () => {
            throw refuse();
          }
        : // eslint-disable-next-line require-yield
          async function* () {
            throw refuse();
          };
  }
  return impl as ServiceImpl<S>;
}

/** What the downstream registry double does for CheckDevice. */
export type CheckBehaviour = (imei: string) => Promise<void> | void;

export interface TracedPair {
  upstream: RunningHost;
  downstream: RunningHost;
  /** The traced client the upstream handler uses. */
  registry: Client<typeof RegistryService>;
  /** An untraced partner client of the upstream server. */
  partner: Client<typeof FederationService>;
  /** Replaced by tests to make the registry fail, log, ... */
  onCheck: CheckBehaviour;
  close(): Promise<void>;
}

export async function startTracedPair(extraUpstreamInterceptors: readonly ServerInterceptor[] = []): Promise<TracedPair> {
  const pair = { onCheck: (() => {}) as CheckBehaviour } as TracedPair;
  const downstream = await startHost({
    listen: "127.0.0.1:0",
    interceptors: [serverTracing()],
    services: [
      hosted(RegistryService, {
        ...unimplemented(RegistryService),
        async checkDevice(request) {
          recordDevice(request.imei);
          await pair.onCheck(request.imei);
          const device = requireDevice(request.imei, "imei");
          return { check: { deviceKey: device.key, status: DeviceStatus.PROHIBITED } };
        },
        async *watchChanges() {
          for (let i = 0; i < 3; i++) yield { epoch: "e1", event: { case: "caughtUp", value: {} } };
        },
      }),
    ],
  });
  const registry = createClient(RegistryService, downstream.address, { interceptors: [clientTracing()] });
  const upstream = await startHost({
    listen: "127.0.0.1:0",
    interceptors: [serverTracing(), ...extraUpstreamInterceptors],
    services: [
      hosted(FederationService, {
        ...unimplemented(FederationService),
        async lookup(request, ctx) {
          recordDevice(request.imei);
          const { check } = await registry.checkDevice({ imei: request.imei, purpose: request.purpose }, { signal: ctx.signal });
          const verdict = check?.status === DeviceStatus.PROHIBITED ? Verdict.PROHIBITED : Verdict.PERMITTED;
          metrics.lookup(verdict);
          return { verdict, device: { deviceKey: check?.deviceKey ?? "" } };
        },
      }),
    ],
  });
  const partner = createClient(FederationService, upstream.address);
  return Object.assign(pair, {
    upstream,
    downstream,
    registry,
    partner,
    async close() {
      partner.close();
      registry.close();
      await Promise.all([upstream.shutdown(200), downstream.shutdown(200)]);
    },
  });
}
