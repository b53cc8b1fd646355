/**
 * Builds the FederationService implementation from one handler factory per
 * method, each given the GatewayContext. The factories sit in the table below
 * (one import and one line per method, owned by the engineer of that method);
 * a method without a factory answers UNIMPLEMENTED.
 *
 * The imports are static on purpose: a dynamic import() of a module that a
 * test has already loaded through tsx's require hook yields a second copy of
 * it (a second ImeifedError class, a second CALLER key), which breaks error
 * mapping and authentication in subtle ways.
 */
import { FederationService } from "../gen/imeifed/v1/federation_pb.js";
import { Code, ImeifedError } from "../errors/index.js";
import type { HandlerFor, RequestOf, ServiceImpl, WireCodecs } from "../rpc/index.js";
import { createReportFoundHandler } from "./found/report-found-handler.js";
import type { GatewayContext } from "./gateway-context.js";
import { createLookupHandler } from "./lookup/lookup-handler.js";
import { createGetRegistryKeysHandler } from "./registry-keys-handler.js";
import { createScreenHandler } from "./screening/screen-handler.js";
import { readScreenRequest, type ScreenRequestRead } from "./screening/screen-request-reader.js";
import { createWatchStolenHandler } from "./stolen-feed/watch-stolen-handler.js";

type Methods = (typeof FederationService)["method"];

/** The requests the gateway reads as types of its own: a Screen request's items by position (screening/screen-request-reader.ts). */
export type FederationReads = { readonly screen: ScreenRequestRead };

/** The hand codecs of the FederationService: the reader of Screen requests. */
export const FEDERATION_CODECS: WireCodecs<typeof FederationService, FederationReads> = { screen: { request: { read: readScreenRequest } } };

/** A function that builds one method's handler from the gateway context. */
export type HandlerFactory<K extends keyof Methods> = (gw: GatewayContext) => HandlerFor<Methods[K], RequestOf<typeof FederationService, K, FederationReads>>;

/** Where each method's factory comes from; undefined = not built yet (UNIMPLEMENTED). */
export type HandlerFactories = { [K in keyof Methods]?: HandlerFactory<K> };

/** The factories of the FederationService methods. Edit only your own line. */
export const FEDERATION_HANDLERS: HandlerFactories = {
  lookup: createLookupHandler,
  getRegistryKeys: createGetRegistryKeysHandler,
  screen: createScreenHandler,
  reportFound: createReportFoundHandler,
  watchStolen: (gw) => createWatchStolenHandler(gw),
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
export async function createFederationService(gw: GatewayContext, factories: HandlerFactories = FEDERATION_HANDLERS): Promise<ServiceImpl<typeof FederationService, FederationReads>> {
  const impl: Record<string, unknown> = {};
  for (const method of FederationService.methods) {
    const factory = (factories as Record<string, ((gw: GatewayContext) => unknown) | undefined>)[method.localName];
    impl[method.localName] = factory ? factory(gw) : unimplemented(method.methodKind, method.name);
  }
  return impl as ServiceImpl<typeof FederationService, FederationReads>;
}

/** The scope each FederationService method requires (the authenticator's table). */
export const FEDERATION_SCOPES = {
  Lookup: "devices:check",
  Screen: "devices:screen",
  ReportFound: "devices:found",
  WatchStolen: "devices:watch",
  GetRegistryKeys: "public",
} as const;
