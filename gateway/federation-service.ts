/**
 * Builds the FederationService implementation from one handler factory per
 * method, each given the GatewayContext. Every factory is loaded lazily from
 * the table below (one line per method, owned by the engineer of that method);
 * a method without a factory answers UNIMPLEMENTED.
 */
import { FederationService } from "../gen/imeifed/v1/federation_pb.js";
import { Code, ImeifedError } from "../errors/index.js";
import type { HandlerFor, ServiceImpl } from "../rpc/index.js";
import type { GatewayContext } from "./gateway-context.js";

type Methods = (typeof FederationService)["method"];

/** A function that builds one method's handler from the gateway context. */
export type HandlerFactory<K extends keyof Methods> = (gw: GatewayContext) => HandlerFor<Methods[K]>;

/** Where each method's factory comes from; undefined = not built yet (UNIMPLEMENTED). */
export type HandlerFactories = { [K in keyof Methods]?: () => Promise<HandlerFactory<K>> };

/** The factories of the FederationService methods. Edit only your own line. */
export const FEDERATION_HANDLERS: HandlerFactories = {
  lookup: () => import("./lookup-handler.js").then((m) => m.createLookupHandler),
  getRegistryKeys: () => import("./registry-keys-handler.js").then((m) => m.createGetRegistryKeysHandler),
  screen: () => import("./screening/screen-handler.js").then((m) => m.createScreenHandler),
  reportFound: () => import("./found/report-found-handler.js").then((m) => m.createReportFoundHandler),
  watchStolen: () => import("./stolen-feed/watch-stolen-handler.js").then((m) => m.createWatchStolenHandler),
};

function unimplemented(kind: string, name: string): unknown {
  const error = () => new ImeifedError(Code.UNIMPLEMENTED, "UNIMPLEMENTED", `FederationService.${name} is not available on this gateway yet`);
  if (kind === "unary" || kind === "client_streaming") return async () => Promise.reject(error());
  return async function* () {
    yield* [];
    throw error();
  };
}

/**
 * The FederationService implementation for `gw`. `factories` overrides the
 * table (tests use it to plug in a handler under test).
 */
export async function createFederationService(gw: GatewayContext, factories: HandlerFactories = FEDERATION_HANDLERS): Promise<ServiceImpl<typeof FederationService>> {
  const impl: Record<string, unknown> = {};
  for (const method of FederationService.methods) {
    const load = (factories as Record<string, (() => Promise<(gw: GatewayContext) => unknown>) | undefined>)[method.localName];
    impl[method.localName] = load ? (await load())(gw) : unimplemented(method.methodKind, method.name);
  }
  return impl as ServiceImpl<typeof FederationService>;
}

/** The scope each FederationService method requires (the authenticator's table). */
export const FEDERATION_SCOPES = {
  Lookup: "devices:check",
  Screen: "devices:screen",
  ReportFound: "devices:found",
  WatchStolen: "devices:watch",
  GetRegistryKeys: "public",
} as const;
