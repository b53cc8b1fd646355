/**
 * Who takes part in the pilot federation: five registries, their police,
 * a customs service, a manufacturer and a mobile network, with the scopes
 * each may hold.
 */
import type { PrincipalKind, Scope } from "../trust/principal.js";
import { DEMO_TACS } from "./demo-tacs.js";

export const DEMO_COUNTRIES = ["JP", "BR", "ES", "US", "GB"] as const;
export type DemoCountry = (typeof DEMO_COUNTRIES)[number];

export interface DemoPrincipal {
  readonly id: string;
  readonly name: string;
  readonly country: string;
  readonly kind: PrincipalKind;
  readonly scopes: readonly Scope[];
  readonly tacPrefixes?: readonly string[];
}

const POLICE_NAMES: Readonly<Record<DemoCountry, string>> = {
  JP: "National Police Agency (pilot)",
  BR: "Polícia Civil (pilot)",
  ES: "Policía Nacional (pilot)",
  US: "Police Department (pilot)",
  GB: "Metropolitan Police (pilot)",
};

/** The gateway's own principal: it calls registries on partners' behalf. */
export const GATEWAY_ID = "gateway";

/** The TACs the demo manufacturer makes: its stolen-mode feed covers these. */
export const OEM_TAC_PREFIXES: readonly string[] = DEMO_TACS.filter((t) => t.make === "Apple").map((t) => t.tac);

export const DEMO_PRINCIPALS: readonly DemoPrincipal[] = [
  ...DEMO_COUNTRIES.map(
    (country): DemoPrincipal => ({
      id: `police-${country.toLowerCase()}`,
      name: POLICE_NAMES[country],
      country,
      kind: "police",
      scopes: ["devices:check", "devices:report", "devices:watch", "devices:found"],
    }),
  ),
  { id: "customs-gb", name: "Border Force (pilot)", country: "GB", kind: "customs", scopes: ["devices:check", "devices:screen", "devices:found"] },
  { id: "oem-demo", name: "Demo Handsets Ltd (pilot manufacturer)", country: "US", kind: "manufacturer", scopes: ["devices:watch"], tacPrefixes: OEM_TAC_PREFIXES },
  // A mobile network in an export market: it asks at attach through the N5g-eir front (networks/n5g-eir).
  { id: "operator-hk", name: "Hong Kong mobile network (pilot)", country: "HK", kind: "operator", scopes: ["n5g-eir-eic"] },
  // A 4G network asking at attach over Diameter S13 (networks/s13/): its MME is a configured peer of the gateway.
  { id: "operator-dz", name: "4G mobile network, Algeria (pilot)", country: "DZ", kind: "operator", scopes: ["n5g-eir-eic"] },
  { id: GATEWAY_ID, name: "imeifed pilot gateway", country: "ZZ", kind: "gateway", scopes: ["devices:check", "devices:watch", "devices:found"] },
];

/** The principal ids that get a token file (everyone but the gateway, which mints its own). */
export const TOKEN_HOLDERS: readonly string[] = DEMO_PRINCIPALS.filter((p) => p.kind !== "gateway").map((p) => p.id);

/** The pilot's S13 front: the gateway's Diameter identity, and the MME of operator-dz (MCC 603 is Algeria) as its one peer. */
export const DEMO_S13 = {
  originHost: "eir.imeifed.pilot",
  originRealm: "imeifed.pilot",
  peers: { "operator-dz": { originHost: "mme1.epc.mnc001.mcc603.3gppnetwork.org", originRealm: "epc.mnc001.mcc603.3gppnetwork.org" } },
} as const;
