/**
 * Who may connect. Diameter carries no token, so a peer is known by the
 * Origin-Host and Origin-Realm its CER names, and (where configured) by the
 * addresses it may connect from; each known peer stands for one `operator`
 * principal of the trust file, the identity its checks are audited,
 * policed, counted and reported under.
 */
import { BlockList, isIPv4, isIPv6 } from "node:net";

export interface PeerEntry {
  readonly originHost: string;
  readonly originRealm: string;
  /** The operator principal's id in the trust file. */
  readonly principal: string;
  /** Addresses or CIDR blocks it may connect from; absent: any. */
  readonly from?: readonly string[];
}

/** A peer that passed capabilities exchange: who it is, and the principal it acts as. */
export interface KnownPeer {
  readonly originHost: string;
  readonly originRealm: string;
  readonly principal: string;
}

/** Why a CER's sender is refused (all answered DIAMETER_UNKNOWN_PEER). */
export type PeerRefusal = "UNKNOWN_ORIGIN" | "REALM_MISMATCH" | "ADDRESS_NOT_ALLOWED";

/** DiameterIdentity is an FQDN or realm: compared without case (RFC 6733 §4.3.1). */
const key = (identity: string) => identity.toLowerCase();

export class PeerTable {
  private readonly byHost = new Map<string, { entry: PeerEntry; allowed?: BlockList }>();

  constructor(entries: readonly PeerEntry[]) {
    for (const entry of entries) {
      const host = key(entry.originHost);
      if (this.byHost.has(host)) throw new Error(`peer ${entry.originHost} is configured twice`);
      this.byHost.set(host, entry.from === undefined ? { entry } : { entry, allowed: blockListOf(entry.from) });
    }
  }

  /** The peer a CER from `remoteAddress` naming `originHost`/`originRealm` is, or why it is refused. */
  admit(originHost: string, originRealm: string, remoteAddress: string): { peer: KnownPeer } | { refused: PeerRefusal } {
    const found = this.byHost.get(key(originHost));
    if (!found) return { refused: "UNKNOWN_ORIGIN" };
    if (key(found.entry.originRealm) !== key(originRealm)) return { refused: "REALM_MISMATCH" };
    if (found.allowed && !allows(found.allowed, remoteAddress)) return { refused: "ADDRESS_NOT_ALLOWED" };
    return { peer: { originHost: found.entry.originHost, originRealm: found.entry.originRealm, principal: found.entry.principal } };
  }
}

/** A list of addresses and CIDR blocks; throws naming the first that is neither. */
export function blockListOf(from: readonly string[]): BlockList {
  const list = new BlockList();
  for (const item of from) {
    const [address = "", prefix] = item.split("/");
    const type = isIPv4(address) ? "ipv4" : isIPv6(address) ? "ipv6" : undefined;
    if (!type) throw new Error(`${item} is not an IP address or CIDR block`);
    if (prefix === undefined) list.addAddress(address, type);
    else list.addSubnet(address, Number(prefix), type);
  }
  return list;
}

function allows(list: BlockList, remoteAddress: string): boolean {
  // A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d.
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(remoteAddress)?.[1];
  if (v4) return list.check(v4, "ipv4");
  return isIPv4(remoteAddress) ? list.check(remoteAddress, "ipv4") : isIPv6(remoteAddress) && list.check(remoteAddress, "ipv6");
}
