/**
 * One Diameter connection, from the CER that opens it to its close (RFC 6733
 * §5): capabilities exchange decides who the peer is (or refuses it and
 * closes), then requests are answered as they finish, so several are in
 * flight at once and answers leave in any order, each echoing its request's
 * hop-by-hop and end-to-end ids. Requests in flight are bounded (past the
 * bound: DIAMETER_TOO_BUSY at once), silence is met with a watchdog (RFC 3539),
 * and bytes that cannot be framed close this connection and nothing else.
 */
import type { Socket } from "node:net";
import type { Logger } from "../../observability/logger.js";
import { answerTo, missingAvp, resultAnswer, type LocalIdentity } from "./answers.js";
import {
  APPLICATION,
  AUTH_SESSION_STATE,
  AVP,
  COMMAND,
  DISCONNECT_CAUSE,
  RESULT_CODE,
  VENDOR_3GPP,
  avpOf,
  decodeHeader,
  decodeMessage,
  encodeMessage,
  findAvp,
  findAvps,
  valueOf,
  type DiameterAvp,
  type DiameterMessage,
} from "./diameter/index.js";
import { MessageFramer } from "./message-framer.js";
import type { KnownPeer, PeerTable } from "./peer-table.js";

/** The bounds of one connection (s13-config.ts documents each default). */
export interface ConnectionLimits {
  readonly maxMessageBytes: number;
  readonly maxInFlight: number;
  /** Silence after which a DWR is sent; a second such silence closes the connection. */
  readonly watchdogMs: number;
  /** How long a new connection may take to send its CER. */
  readonly capabilitiesTimeoutMs: number;
}

/** Answers one application request (ME-Identity-Check) for a known peer; never rejects. */
export type ApplicationHandler = (request: DiameterMessage, peer: KnownPeer, signal: AbortSignal) => Promise<DiameterMessage>;

export interface PeerConnectionOptions {
  readonly identity: LocalIdentity;
  readonly peers: PeerTable;
  readonly limits: ConnectionLimits;
  readonly meIdentityCheck: ApplicationHandler;
  readonly log: Logger;
}

type State = "waiting-for-cer" | "open" | "closing";

const RELAY_APPLICATION = 0xffff_ffff;

export class PeerConnection {
  private state: State = "waiting-for-cer";
  private peer: KnownPeer | undefined;
  private readonly framer: MessageFramer;
  private inFlight = 0;
  private readonly aborter = new AbortController();
  private lastHeard = Date.now();
  private watchdogSent = false;
  private timer: NodeJS.Timeout | undefined;
  private nextHopByHop = (Math.random() * 0x7fff_ffff) >>> 0;

  constructor(
    private readonly socket: Socket,
    private readonly options: PeerConnectionOptions,
  ) {
    this.framer = new MessageFramer(options.limits.maxMessageBytes);
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => this.onData(chunk));
    socket.on("error", (error) => options.log.debug("diameter connection error", { remote: socket.remoteAddress, error: (error as NodeJS.ErrnoException).code ?? error.message }));
    socket.on("close", () => {
      this.state = "closing";
      clearTimeout(this.timer);
      this.aborter.abort();
    });
    this.arm(options.limits.capabilitiesTimeoutMs);
  }

  /** Requests being answered now. */
  get requestsInFlight(): number {
    return this.inFlight;
  }

  /** Asks the peer to disconnect (DPR, RFC 6733 §5.4); the connection closes on its DPA, or when the caller destroys it. */
  disconnect(): void {
    if (this.state !== "open") {
      this.socket.destroy();
      return;
    }
    this.send({ ...this.ownRequest(COMMAND.disconnectPeer), avps: [avpOf(AVP.OriginHost, this.options.identity.originHost), avpOf(AVP.OriginRealm, this.options.identity.originRealm), avpOf(AVP.DisconnectCause, DISCONNECT_CAUSE.REBOOTING)] });
    this.state = "closing";
  }

  private onData(chunk: Buffer): void {
    this.lastHeard = Date.now();
    this.watchdogSent = false;
    const { messages, broken } = this.framer.push(chunk);
    for (const bytes of messages) {
      if (this.socket.destroyed) return;
      this.onMessage(bytes);
    }
    if (broken) {
      this.options.log.warn("diameter stream cannot be framed: connection closed", { remote: this.socket.remoteAddress, peer: this.peer?.originHost, problem: broken.problem, detail: broken.message });
      this.socket.destroy();
    }
  }

  private onMessage(bytes: Buffer): void {
    const decoded = decodeMessage(bytes);
    if (!decoded.ok) {
      // The framer checked the header, so the ids are readable: answer the request with what is wrong.
      const header = decodeHeader(bytes);
      const request = header.ok && header.value.flags & 0x80;
      if (!request || this.state !== "open" || !header.ok) {
        this.options.log.warn("malformed diameter message: connection closed", { remote: this.socket.remoteAddress, problem: decoded.error.problem });
        this.socket.destroy();
        return;
      }
      const h = header.value;
      const shell: DiameterMessage = { request: true, proxiable: (h.flags & 0x40) !== 0, error: false, retransmitted: false, commandCode: h.commandCode, applicationId: h.applicationId, hopByHop: h.hopByHop, endToEnd: h.endToEnd, avps: [] };
      this.send(resultAnswer(shell, this.options.identity, decoded.error.resultCode, { errorMessage: decoded.error.message, ...(decoded.error.avp ? { failedAvp: decoded.error.avp } : {}) }));
      return;
    }
    const message = decoded.value;
    if (!message.request) {
      // Answers to this peer's own DWR and DPR: any traffic already reset the watchdog; a DPA ends the connection.
      if (message.commandCode === COMMAND.disconnectPeer && this.state === "closing") this.socket.end();
      return;
    }
    if (this.state === "waiting-for-cer") {
      if (message.commandCode === COMMAND.capabilitiesExchange && message.applicationId === APPLICATION.common) this.onCapabilitiesExchange(message);
      else {
        this.options.log.warn("diameter request before capabilities exchange: connection closed", { remote: this.socket.remoteAddress, command: message.commandCode });
        this.socket.destroy();
      }
      return;
    }
    if (this.state === "closing") return;
    if (message.applicationId === APPLICATION.common) {
      switch (message.commandCode) {
        case COMMAND.capabilitiesExchange:
          return this.onCapabilitiesExchange(message);
        case COMMAND.deviceWatchdog:
          return this.send(answerTo(message, this.options.identity, [avpOf(AVP.ResultCode, RESULT_CODE.SUCCESS), avpOf(AVP.OriginStateId, this.options.identity.originStateId)]));
        case COMMAND.disconnectPeer:
          this.state = "closing";
          this.socket.end(encodeMessage(answerTo(message, this.options.identity, [avpOf(AVP.ResultCode, RESULT_CODE.SUCCESS)])));
          return;
        default:
          return this.send(resultAnswer(message, this.options.identity, RESULT_CODE.COMMAND_UNSUPPORTED, { errorMessage: `command ${message.commandCode} is not a base protocol command this peer serves` }));
      }
    }
    if (message.applicationId !== APPLICATION.s13) {
      return this.send(resultAnswer(message, this.options.identity, RESULT_CODE.APPLICATION_UNSUPPORTED, { errorMessage: `application ${message.applicationId} is not served here; this peer serves S13 (${APPLICATION.s13})` }));
    }
    if (message.commandCode !== COMMAND.meIdentityCheck) {
      return this.send(resultAnswer(message, this.options.identity, RESULT_CODE.COMMAND_UNSUPPORTED, { errorMessage: `command ${message.commandCode} is not an S13 command; S13 has ME-Identity-Check (${COMMAND.meIdentityCheck})` }));
    }
    if (this.inFlight >= this.options.limits.maxInFlight) {
      return this.send(resultAnswer(message, this.options.identity, RESULT_CODE.TOO_BUSY, { errorMessage: `${this.inFlight} requests are in flight on this connection, the most it takes` }));
    }
    this.inFlight++;
    const peer = this.peer!;
    void this.options
      .meIdentityCheck(message, peer, this.aborter.signal)
      .catch((error: unknown) => {
        this.options.log.error("ME-Identity-Check failed", { peer: peer.originHost, error });
        return resultAnswer(message, this.options.identity, RESULT_CODE.UNABLE_TO_COMPLY, { extra: [avpOf(AVP.AuthSessionState, AUTH_SESSION_STATE.NO_STATE_MAINTAINED)] });
      })
      .then((answer) => {
        this.inFlight--;
        this.send(answer);
      });
  }

  private onCapabilitiesExchange(cer: DiameterMessage): void {
    const { identity } = this.options;
    const refuse = (resultCode: number, detail: { failedAvp?: DiameterAvp; errorMessage: string }, logged: Record<string, unknown>) => {
      this.options.log.warn("diameter peer refused", { remote: this.socket.remoteAddress, resultCode, ...logged });
      this.state = "closing";
      this.socket.end(encodeMessage(resultAnswer(cer, identity, resultCode, { ...detail, extra: this.capabilities() })));
    };
    const hostAvp = findAvp(cer.avps, AVP.OriginHost);
    const realmAvp = findAvp(cer.avps, AVP.OriginRealm);
    if (!hostAvp || !realmAvp) {
      const missing = hostAvp ? AVP.OriginRealm : AVP.OriginHost;
      return refuse(RESULT_CODE.MISSING_AVP, { failedAvp: missingAvp(missing), errorMessage: `CER lacks ${missing.name}` }, { missing: missing.name });
    }
    const host = valueOf(AVP.OriginHost, hostAvp);
    const realm = valueOf(AVP.OriginRealm, realmAvp);
    if (!host.ok) return refuse(RESULT_CODE.INVALID_AVP_VALUE, { failedAvp: hostAvp, errorMessage: host.error.message }, { problem: "Origin-Host" });
    if (!realm.ok) return refuse(RESULT_CODE.INVALID_AVP_VALUE, { failedAvp: realmAvp, errorMessage: realm.error.message }, { problem: "Origin-Realm" });
    const admitted = this.options.peers.admit(host.value, realm.value, this.socket.remoteAddress ?? "");
    if ("refused" in admitted) {
      return refuse(RESULT_CODE.UNKNOWN_PEER, { errorMessage: `${host.value} (${realm.value}) is not a configured peer of ${identity.originHost}` }, { originHost: host.value, originRealm: realm.value, why: admitted.refused });
    }
    if (this.peer && this.peer.originHost !== admitted.peer.originHost) {
      return refuse(RESULT_CODE.UNKNOWN_PEER, { errorMessage: `this connection belongs to ${this.peer.originHost}` }, { originHost: host.value, why: "IDENTITY_CHANGED" });
    }
    if (!offersS13(cer.avps)) {
      return refuse(RESULT_CODE.NO_COMMON_APPLICATION, { errorMessage: `the CER advertises no S13 application (Auth-Application-Id ${APPLICATION.s13}, vendor ${VENDOR_3GPP})` }, { originHost: host.value });
    }
    this.peer = admitted.peer;
    this.state = "open";
    this.lastHeard = Date.now();
    this.arm(this.options.limits.watchdogMs);
    this.send(answerTo(cer, identity, [avpOf(AVP.ResultCode, RESULT_CODE.SUCCESS), ...this.capabilities()]));
    this.options.log.info("diameter peer connected", { peer: admitted.peer.originHost, principal: admitted.peer.principal, remote: this.socket.remoteAddress });
  }

  /** What a CEA says about this peer (RFC 6733 §5.3.2), S13 advertised as TS 29.272 §7.1.8 asks. */
  private capabilities(): DiameterAvp[] {
    const local = this.socket.localAddress;
    return [
      ...(local ? [avpOf(AVP.HostIpAddress, local.replace(/^::ffff:(?=\d+\.)/i, ""))] : []),
      avpOf(AVP.VendorId, 0),
      avpOf(AVP.ProductName, this.options.identity.productName),
      avpOf(AVP.OriginStateId, this.options.identity.originStateId),
      avpOf(AVP.SupportedVendorId, VENDOR_3GPP),
      avpOf(AVP.VendorSpecificApplicationId, [avpOf(AVP.VendorId, VENDOR_3GPP), avpOf(AVP.AuthApplicationId, APPLICATION.s13)]),
    ];
  }

  private ownRequest(commandCode: number): Omit<DiameterMessage, "avps"> {
    this.nextHopByHop = (this.nextHopByHop + 1) >>> 0;
    return { request: true, proxiable: false, error: false, retransmitted: false, commandCode, applicationId: APPLICATION.common, hopByHop: this.nextHopByHop, endToEnd: this.nextHopByHop };
  }

  private send(message: DiameterMessage): void {
    if (this.socket.destroyed || !this.socket.writable) return;
    // A peer that does not read its answers stops being read from until it does, so its
    // unread answers never grow past the socket's buffer (its requests wait in the kernel).
    if (!this.socket.write(encodeMessage(message)) && !this.socket.isPaused()) {
      this.socket.pause();
      this.socket.once("drain", () => this.socket.resume());
    }
  }

  /** One timer per connection: the CER deadline, then the watchdog; it re-arms from the last byte heard rather than per message. */
  private arm(ms: number): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.onTimer(), ms);
    this.timer.unref();
  }

  private onTimer(): void {
    if (this.socket.destroyed) return;
    if (this.state === "closing") {
      // A refused CER's CEA or a DPA was written with end(); a peer that does not close its side is closed here.
      this.socket.destroy();
      return;
    }
    if (this.state !== "open") {
      this.options.log.warn("diameter peer sent no CER in time: connection closed", { remote: this.socket.remoteAddress });
      this.socket.destroy();
      return;
    }
    const { watchdogMs } = this.options.limits;
    const silent = Date.now() - this.lastHeard;
    if (silent < watchdogMs) return this.arm(watchdogMs - silent);
    if (this.watchdogSent) {
      this.options.log.warn("diameter peer silent past its watchdog: connection closed", { peer: this.peer?.originHost });
      this.socket.destroy();
      return;
    }
    this.watchdogSent = true;
    this.send({ ...this.ownRequest(COMMAND.deviceWatchdog), avps: [avpOf(AVP.OriginHost, this.options.identity.originHost), avpOf(AVP.OriginRealm, this.options.identity.originRealm), avpOf(AVP.OriginStateId, this.options.identity.originStateId)] });
    this.lastHeard = Date.now();
    this.arm(watchdogMs);
  }
}

/** Whether a CER offers S13: as an Auth-Application-Id, inside a Vendor-Specific-Application-Id, or as a relay (all applications). */
function offersS13(avps: readonly DiameterAvp[]): boolean {
  const ids = (list: readonly DiameterAvp[]) => findAvps(list, AVP.AuthApplicationId).map((a) => valueOf(AVP.AuthApplicationId, a)).flatMap((v) => (v.ok ? [v.value] : []));
  const offered = [...ids(avps)];
  for (const group of findAvps(avps, AVP.VendorSpecificApplicationId)) {
    const inner = valueOf(AVP.VendorSpecificApplicationId, group);
    if (inner.ok) offered.push(...ids(inner.value));
  }
  return offered.some((id) => id === APPLICATION.s13 || id === RELAY_APPLICATION);
}
