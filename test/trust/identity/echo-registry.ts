/**
 * A tiny RegistryService for identity tests: every handler answers with the
 * verified caller the interceptors left in the context, so a test sees
 * exactly whom the server admitted (principal, actor, scopes).
 */
import type { ServerCredentials } from "@grpc/grpc-js";
import { RegistryService } from "../../../gen/imeifed/v1/registry_pb.js";
import { Code, ImeifedError } from "../../../errors/index.js";
import { hosted, startHost, type CallContext, type RunningHost, type ServerInterceptor, type ServiceImpl } from "../../../rpc/index.js";
import { CALLER } from "../../../trust/principal.js";

/** What the echo registry reports about a call's caller. */
export interface EchoedCaller {
  principal: string | null;
  kind: string | null;
  actor: { id: string; kind: string; country: string } | null;
  scopes: string[];
}

function echo(ctx: CallContext): string {
  const caller = ctx.values.get(CALLER);
  const body: EchoedCaller = {
    principal: caller?.principal.id ?? null,
    kind: caller?.principal.kind ?? null,
    actor: caller?.actor ? { ...caller.actor } : null,
    scopes: caller ? [...caller.scopes].sort() : [],
  };
  return JSON.stringify(body);
}

const unimplemented = async (): Promise<never> => {
  throw new ImeifedError(Code.UNIMPLEMENTED, "UNIMPLEMENTED", "not in the echo registry");
};
// eslint-disable-next-line require-yield
async function* unimplementedStream(): AsyncIterable<never> {
  throw new ImeifedError(Code.UNIMPLEMENTED, "UNIMPLEMENTED", "not in the echo registry");
}

/** A watch with nothing to tell: it stays open until the call ends (stream lifetime tests). */
// eslint-disable-next-line require-yield
async function* idleWatch(_request: unknown, ctx: CallContext): AsyncIterable<never> {
  if (!ctx.signal.aborted) await new Promise((resolve) => ctx.signal.addEventListener("abort", resolve, { once: true }));
}

const echoRegistry: ServiceImpl<typeof RegistryService> = {
  // CheckDevice and GetKeys echo the caller; ReportDevice just succeeds.
  async checkDevice(_request, ctx) {
    return { check: { finding: { reportingAgency: echo(ctx) } } };
  },
  async getKeys(_request, ctx) {
    return { jwksJson: echo(ctx), country: "XX" };
  },
  async reportDevice() {
    return {};
  },
  clearDevice: unimplemented,
  checkDevices: unimplemented,
  checkDevicesStream: unimplementedStream,
  recordSighting: unimplemented,
  recordSightings: unimplemented,
  watchChanges: unimplementedStream,
  watchSightings: idleWatch,
};

/** The method → scope table the echo registry is usually run with. */
export const ECHO_SCOPES = {
  CheckDevice: "devices:check",
  ReportDevice: "devices:report",
  GetKeys: "public",
} as const;

/** Starts the echo registry on a free loopback port. */
export function startEchoRegistry(options: { interceptors: ServerInterceptor[]; credentials?: ServerCredentials; listen?: string }): Promise<RunningHost> {
  return startHost({
    listen: options.listen ?? "127.0.0.1:0",
    services: [hosted(RegistryService, echoRegistry)],
    interceptors: options.interceptors,
    ...(options.credentials ? { credentials: options.credentials } : {}),
  });
}

/** Parses the caller a CheckDevice or GetKeys answer echoes. */
export function echoed(text: string | undefined): EchoedCaller {
  return JSON.parse(text ?? "null") as EchoedCaller;
}
