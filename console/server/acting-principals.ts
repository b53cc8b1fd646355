/**
 * The principals a console acts as, each with its own token minter and
 * gateway client: calls to the gateway carry a short-lived token minted here,
 * so no key or token ever reaches the browser. In pilot mode the page names
 * which principal to act as; otherwise there is exactly one.
 */
import { Code as ConnectCode, ConnectError } from "@connectrpc/connect";
import { FederationService } from "../../gen/imeifed/v1/federation_pb.js";
import { RegistryService } from "../../gen/imeifed/v1/registry_pb.js";
import type { Scope } from "../../trust/principal.js";
import { openAuditLog, type AuditLog } from "../../trust/audit/index.js";
import { createClient, type Client } from "../../rpc/index.js";
import { TokenMinter } from "../../trust/token-minter.js";
import { channelCredentials, tlsChannelOptions } from "../../trust/tls.js";
import type { ConsoleConfig, ConsolePrincipal, ServiceTarget } from "./console-config.js";

/** What the console asks the gateway for, and what it asks the home registry for. */
const GATEWAY_SCOPES: readonly Scope[] = ["devices:check", "devices:screen", "devices:found"];
const REGISTRY_SCOPES: readonly Scope[] = ["devices:report", "devices:watch"];

async function secureOptions(target: ServiceTarget) {
  return target.tls ? { credentials: await channelCredentials(target.tls), channelOptions: tlsChannelOptions(target.tls) } : {};
}

/** One principal and the gateway client that speaks as it. */
export interface ActingPrincipal {
  readonly principal: ConsolePrincipal;
  readonly gateway: Client<typeof FederationService>;
  /** Its home registry, for police: reports, clearings, sightings. */
  readonly registry: Client<typeof RegistryService> | undefined;
  /** Registry administrators: their registry's audit, opened read-only. */
  readonly audit: AuditLog | undefined;
}

export class ActingPrincipals {
  readonly #byId: ReadonlyMap<string, ActingPrincipal>;
  readonly default: ActingPrincipal;
  readonly pilot: boolean;

  private constructor(byId: Map<string, ActingPrincipal>, first: ActingPrincipal, pilot: boolean) {
    this.#byId = byId;
    this.default = first;
    this.pilot = pilot;
  }

  static async create(config: ConsoleConfig): Promise<ActingPrincipals> {
    const secure = await secureOptions(config.gateway);
    const byId = new Map<string, ActingPrincipal>();
    for (const principal of config.principals) {
      const minter = new TokenMinter({ issuer: principal.id, privateJwk: principal.privateJwk, ttlSec: config.tokenTtlSec });
      const gateway = createClient(FederationService, config.gateway.address, {
        ...secure,
        metadata: minter.metadata({ audience: config.gateway.id, scopes: principal.scopes.filter((s) => GATEWAY_SCOPES.includes(s)) }),
      });
      const home = principal.homeRegistry;
      const registryScopes = principal.scopes.filter((s) => REGISTRY_SCOPES.includes(s));
      const registry =
        home && registryScopes.length > 0
          ? createClient(RegistryService, home.address, { ...(await secureOptions(home)), metadata: minter.metadata({ audience: home.id, scopes: registryScopes }) })
          : undefined;
      const audit = principal.audit ? await openAuditLog(principal.audit, { readOnly: true }) : undefined;
      byId.set(principal.id, { principal, gateway, registry, audit });
    }
    return new ActingPrincipals(byId, byId.get(config.principals[0]!.id)!, config.pilot);
  }

  /** Every principal, the default first. */
  all(): ActingPrincipal[] {
    return [...this.#byId.values()];
  }

  /** The principal a request asks for: the default when it names none; another only in pilot mode. */
  resolve(actAs: string): ActingPrincipal {
    if (actAs === "" || actAs === this.default.principal.id) return this.default;
    if (!this.pilot) throw new ConnectError(`act_as: this console acts only as ${this.default.principal.id}`, ConnectCode.PermissionDenied);
    const found = this.#byId.get(actAs);
    if (!found) throw new ConnectError(`act_as: ${JSON.stringify(actAs.slice(0, 64))} is not one of this pilot's principals (${[...this.#byId.keys()].join(", ")})`, ConnectCode.InvalidArgument);
    return found;
  }

  async close(): Promise<void> {
    for (const p of this.#byId.values()) {
      p.gateway.close();
      p.registry?.close();
      await p.audit?.close();
    }
  }
}
