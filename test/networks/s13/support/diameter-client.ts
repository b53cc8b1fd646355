/**
 * A Diameter client for tests, standing where an MME stands: it connects
 * over TCP (or TLS), exchanges capabilities, and sends requests matched to
 * their answers by hop-by-hop id, many in flight at once. It keeps the raw
 * bytes of every message it received, for decoding with Wireshark.
 */
import { connect as tcpConnect, type Socket } from "node:net";
import { connect as tlsConnect, type ConnectionOptions } from "node:tls";
import {
  APPLICATION,
  AUTH_SESSION_STATE,
  AVP,
  COMMAND,
  VENDOR_3GPP,
  avpOf,
  decodeMessage,
  encodeMessage,
  findAvp,
  valueOf,
  type DiameterAvp,
  type DiameterMessage,
} from "../../../../networks/s13/diameter/index.js";
import { MessageFramer } from "../../../../networks/s13/message-framer.js";

export interface ClientIdentity {
  originHost: string;
  originRealm: string;
}

export const MME: ClientIdentity = { originHost: "mme1.epc.mnc001.mcc603.3gppnetwork.org", originRealm: "epc.mnc001.mcc603.3gppnetwork.org" };

export class DiameterClient {
  /** Every whole message received, as raw bytes, in arrival order. */
  readonly received: Buffer[] = [];
  /** Requests the server sent us (DWR, DPR). */
  readonly serverRequests: DiameterMessage[] = [];
  readonly closed: Promise<void>;
  private readonly waiting = new Map<number, (answer: DiameterMessage) => void>();
  private nextId = 1000;
  private readonly framer = new MessageFramer(1 << 20);
  /** Answer the server's DWR automatically (true by default). */
  answerWatchdogs = true;

  private constructor(
    readonly socket: Socket,
    readonly identity: ClientIdentity,
  ) {
    socket.setNoDelay(true);
    socket.on("data", (chunk: Buffer) => {
      for (const bytes of this.framer.push(chunk).messages) {
        this.received.push(bytes);
        const decoded = decodeMessage(bytes);
        if (!decoded.ok) continue;
        const m = decoded.value;
        if (m.request) {
          this.serverRequests.push(m);
          if (m.commandCode === COMMAND.deviceWatchdog && this.answerWatchdogs) this.write(this.answerOf(m, 2001));
          if (m.commandCode === COMMAND.disconnectPeer) this.write(this.answerOf(m, 2001));
          continue;
        }
        this.waiting.get(m.hopByHop)?.(m);
        this.waiting.delete(m.hopByHop);
      }
    });
    socket.on("error", () => {});
    this.closed = new Promise((resolve) => socket.once("close", () => resolve()));
  }

  static async connect(port: number, identity: ClientIdentity = MME, tls?: ConnectionOptions): Promise<DiameterClient> {
    const socket = tls ? tlsConnect({ port, host: "127.0.0.1", ...tls }) : tcpConnect({ port, host: "127.0.0.1" });
    await new Promise<void>((resolve, reject) => {
      socket.once(tls ? "secureConnect" : "connect", () => resolve());
      socket.once("error", reject);
    });
    return new DiameterClient(socket, identity);
  }

  /** Connects and completes capabilities exchange; throws unless the CEA says 2001. */
  static async open(port: number, identity: ClientIdentity = MME, tls?: ConnectionOptions): Promise<DiameterClient> {
    const client = await DiameterClient.connect(port, identity, tls);
    const cea = await client.exchangeCapabilities();
    const code = resultCodeOf(cea);
    if (code !== 2001) throw new Error(`CEA ${code}`);
    return client;
  }

  exchangeCapabilities(extra: DiameterAvp[] = [s13Application()]): Promise<DiameterMessage> {
    return this.ask(this.request(COMMAND.capabilitiesExchange, APPLICATION.common, [avpOf(AVP.HostIpAddress, "127.0.0.1"), avpOf(AVP.VendorId, 0), avpOf(AVP.ProductName, "test-mme"), ...extra]));
  }

  /** A request with fresh ids and this client's Origin-Host and Origin-Realm (after any Session-Id given first). */
  request(commandCode: number, applicationId: number, avps: DiameterAvp[]): DiameterMessage {
    const id = this.nextId++;
    const session = avps[0]?.code === AVP.SessionId.code ? [avps.shift()!] : [];
    return { request: true, proxiable: applicationId !== 0, error: false, retransmitted: false, commandCode, applicationId, hopByHop: id, endToEnd: 0x5000_0000 + id, avps: [...session, avpOf(AVP.OriginHost, this.identity.originHost), avpOf(AVP.OriginRealm, this.identity.originRealm), ...avps] };
  }

  /** An ME-Identity-Check-Request; `terminal` replaces the Terminal-Information (null: none). */
  meIdentityCheck(imei: string, options: { softwareVersion?: string; userName?: string; terminal?: DiameterAvp | null } = {}): DiameterMessage {
    const terminal =
      options.terminal === undefined
        ? avpOf(AVP.TerminalInformation, [avpOf(AVP.Imei, imei), ...(options.softwareVersion ? [avpOf(AVP.SoftwareVersion, options.softwareVersion)] : [])])
        : options.terminal;
    return this.request(COMMAND.meIdentityCheck, APPLICATION.s13, [
      avpOf(AVP.SessionId, `${this.identity.originHost};${Date.now()};${this.nextId}`),
      avpOf(AVP.VendorSpecificApplicationId, [avpOf(AVP.VendorId, VENDOR_3GPP), avpOf(AVP.AuthApplicationId, APPLICATION.s13)]),
      avpOf(AVP.AuthSessionState, AUTH_SESSION_STATE.NO_STATE_MAINTAINED),
      avpOf(AVP.DestinationRealm, "eir.imeifed.example"),
      ...(terminal ? [terminal] : []),
      ...(options.userName ? [avpOf(AVP.UserName, options.userName)] : []),
    ]);
  }

  /** Sends `message` and resolves with the answer carrying its hop-by-hop id. */
  ask(message: DiameterMessage, timeoutMs = 10_000): Promise<DiameterMessage> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no answer to command ${message.commandCode} (hop-by-hop ${message.hopByHop}) within ${timeoutMs} ms`)), timeoutMs);
      this.waiting.set(message.hopByHop, (answer) => {
        clearTimeout(timer);
        resolve(answer);
      });
      this.write(encodeMessage(message));
    });
  }

  write(bytes: Buffer | DiameterMessage): void {
    this.socket.write(Buffer.isBuffer(bytes) ? bytes : encodeMessage(bytes));
  }

  close(): void {
    this.socket.destroy();
  }

  private answerOf(request: DiameterMessage, resultCode: number): DiameterMessage {
    return { ...request, request: false, avps: [avpOf(AVP.ResultCode, resultCode), avpOf(AVP.OriginHost, this.identity.originHost), avpOf(AVP.OriginRealm, this.identity.originRealm)] };
  }
}

export function s13Application(): DiameterAvp {
  return avpOf(AVP.VendorSpecificApplicationId, [avpOf(AVP.VendorId, VENDOR_3GPP), avpOf(AVP.AuthApplicationId, APPLICATION.s13)]);
}

export function resultCodeOf(answer: DiameterMessage): number | undefined {
  const avp = findAvp(answer.avps, AVP.ResultCode);
  const v = avp && valueOf(AVP.ResultCode, avp);
  return v?.ok ? v.value : undefined;
}

export function experimentalResultOf(answer: DiameterMessage): { vendorId: number; code: number } | undefined {
  const avp = findAvp(answer.avps, AVP.ExperimentalResult);
  const inner = avp && valueOf(AVP.ExperimentalResult, avp);
  if (!inner?.ok) return undefined;
  const vendor = findAvp(inner.value, AVP.VendorId);
  const code = findAvp(inner.value, AVP.ExperimentalResultCode);
  const v = vendor && valueOf(AVP.VendorId, vendor);
  const c = code && valueOf(AVP.ExperimentalResultCode, code);
  return v?.ok && c?.ok ? { vendorId: v.value, code: c.value } : undefined;
}

export function equipmentStatusOf(answer: DiameterMessage): number | undefined {
  const avp = findAvp(answer.avps, AVP.EquipmentStatus);
  const v = avp && valueOf(AVP.EquipmentStatus, avp);
  return v?.ok ? v.value : undefined;
}

/** The AVP named by the answer's Failed-AVP, and what it holds (one level of grouping). */
export function failedAvpOf(answer: DiameterMessage): DiameterAvp | undefined {
  const avp = findAvp(answer.avps, AVP.FailedAvp);
  const inner = avp && valueOf(AVP.FailedAvp, avp);
  return inner?.ok ? inner.value[0] : undefined;
}
