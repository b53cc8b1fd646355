/**
 * Who may call: principals are the parties of the federation (police forces,
 * customs, manufacturers, registries, gateways, and the mobile networks that
 * ask at attach, `operator`), each with the scopes it may hold. A verified
 * call carries a Caller.
 */
import { Code, ImeifedError } from "../errors/index.js";
import { createContextKey, type CallContext } from "../rpc/context.js";

export const PRINCIPAL_KINDS = ["police", "customs", "manufacturer", "registry", "gateway", "pilot", "admin", "operator"] as const;
export type PrincipalKind = (typeof PRINCIPAL_KINDS)[number];

/** The scopes a token may carry, and the calls each admits. */
export const SCOPES = [
  "devices:check", // Lookup, CheckDevice(s)
  "devices:screen", // Screen
  "devices:report", // ReportDevice, ClearDevice
  "devices:watch", // WatchChanges, WatchStolen, WatchSightings
  "devices:found", // ReportFound, RecordSighting, RecordSightings
  "registry:admin", // clear any record of this registry
  // The 3GPP scope of TS 29.511's N5g-eir_EquipmentIdentityCheck API (an NRF-issued token names it so):
  // a network's equipment check at attach, over any front (networks/).
  "n5g-eir-eic",
] as const;
export type Scope = (typeof SCOPES)[number];

export interface Principal {
  /** Stable id, used as JWT `iss` and `sub`: for example `police-es`. */
  readonly id: string;
  readonly name: string;
  /** ISO 3166-1 alpha-2. */
  readonly country: string;
  readonly kind: PrincipalKind;
  /** The scopes this principal may hold; a token asking for more is refused. */
  readonly scopes: readonly Scope[];
  /** For manufacturers: the TAC prefixes of the devices they make. */
  readonly tacPrefixes: readonly string[];
}

/** The party on whose behalf a delegated call is made (RFC 8693 `act` claim). */
export interface Actor {
  readonly id: string;
  readonly kind: PrincipalKind;
  readonly country: string;
}

/** A verified caller: the principal that signed the token and, when it calls on someone's behalf, the real requester. */
export interface Caller {
  readonly principal: Principal;
  /** The scopes granted by this token (a subset of the principal's). */
  readonly scopes: ReadonlySet<Scope>;
  /** Present when a gateway calls on behalf of a partner. */
  readonly actor?: Actor;
  /** Token expiry (epoch seconds). */
  readonly expiresAt: number;
}

/** The party really asking: the actor of a delegated call, otherwise the principal itself. */
export function requesterOf(caller: Caller): Actor {
  return caller.actor ?? { id: caller.principal.id, kind: caller.principal.kind, country: caller.principal.country };
}

/** Where the authentication interceptor puts the verified caller. */
export const CALLER = createContextKey<Caller | undefined>(undefined, "caller");

/** The verified caller of a call; UNAUTHENTICATED when the authentication interceptor set none. */
export function callerOf(ctx: Pick<CallContext, "values">): Caller {
  const caller = ctx.values.get(CALLER);
  if (!caller) throw new ImeifedError(Code.UNAUTHENTICATED, "NO_CALLER", "this call carries no verified caller; send authorization: Bearer <token>");
  return caller;
}
