/**
 * The S13 benchmark's load generator, run as its own process so it does not
 * share a core's event loop with what it measures: one Diameter connection,
 * a CER, then ME-Identity-Checks of one device kept `inFlight` at a time for
 * `durationSec` after `warmUpSec`. Requests are encoded once and only their
 * hop-by-hop and end-to-end ids patched; answers are framed by length and
 * counted by their ids, one in a thousand decoded in full to check it says
 * 2001 with the expected Equipment-Status. Prints one JSON line.
 *
 *   node --import tsx bench/s13-load.ts PORT ORIGIN_HOST ORIGIN_REALM IMEI IN_FLIGHT DURATION_SEC WARMUP_SEC EXPECTED_STATUS
 */
import { connect } from "node:net";
import { APPLICATION, AUTH_SESSION_STATE, AVP, COMMAND, VENDOR_3GPP, avpOf, decodeMessage, encodeMessage, findAvp, valueOf, type DiameterMessage } from "../networks/s13/diameter/index.js";

const [port, originHost, originRealm, imei, inFlightText, durationText, warmUpText, expectedText] = process.argv.slice(2);
const inFlight = Number(inFlightText);
const expected = Number(expectedText);
const base = { proxiable: true, error: false, retransmitted: false, hopByHop: 0, endToEnd: 0 };
const origin = [avpOf(AVP.OriginHost, originHost!), avpOf(AVP.OriginRealm, originRealm!)];
const cer = encodeMessage({ ...base, request: true, proxiable: false, commandCode: COMMAND.capabilitiesExchange, applicationId: APPLICATION.common, avps: [...origin, avpOf(AVP.HostIpAddress, "127.0.0.1"), avpOf(AVP.VendorId, 0), avpOf(AVP.ProductName, "bench-mme"), avpOf(AVP.AuthApplicationId, APPLICATION.s13)] });
const check: DiameterMessage = {
  ...base,
  request: true,
  commandCode: COMMAND.meIdentityCheck,
  applicationId: APPLICATION.s13,
  avps: [
    avpOf(AVP.SessionId, `${originHost};bench;1`),
    ...origin,
    avpOf(AVP.VendorSpecificApplicationId, [avpOf(AVP.VendorId, VENDOR_3GPP), avpOf(AVP.AuthApplicationId, APPLICATION.s13)]),
    avpOf(AVP.AuthSessionState, AUTH_SESSION_STATE.NO_STATE_MAINTAINED),
    avpOf(AVP.DestinationRealm, "imeifed.bench"),
    avpOf(AVP.TerminalInformation, [avpOf(AVP.Imei, imei!), avpOf(AVP.SoftwareVersion, "01")]),
  ],
};
const template = encodeMessage(check);

const socket = connect({ port: Number(port), host: "127.0.0.1" });
socket.setNoDelay(true);
let pending: Buffer = Buffer.alloc(0);
let nextId = 1;
let counting = false;
let answered = 0;
let wrong = 0;
let stopped = false;
let opened = false;

function send(): void {
  const bytes = Buffer.from(template);
  const id = nextId++ >>> 0;
  bytes.writeUInt32BE(id, 12);
  bytes.writeUInt32BE(id, 16);
  socket.write(bytes);
}

socket.on("data", (chunk: Buffer) => {
  pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
  let offset = 0;
  while (pending.length - offset >= 20) {
    const length = pending.readUIntBE(offset + 1, 3);
    if (pending.length - offset < length) break;
    const message = pending.subarray(offset, offset + length);
    offset += length;
    if (!opened) {
      opened = true;
      for (let i = 0; i < inFlight; i++) send();
      continue;
    }
    if ((message[4]! & 0x80) !== 0) continue; // a DWR from the EIR: not expected within a run
    if (counting) {
      answered++;
      if (answered % 1000 === 1) {
        const decoded = decodeMessage(Buffer.from(message));
        const es = decoded.ok ? findAvp(decoded.value.avps, AVP.EquipmentStatus) : undefined;
        const rc = decoded.ok ? findAvp(decoded.value.avps, AVP.ResultCode) : undefined;
        const ok = es && rc && valueOf(AVP.ResultCode, rc).ok && (valueOf(AVP.ResultCode, rc) as { value: number }).value === 2001 && (valueOf(AVP.EquipmentStatus, es) as { value: number }).value === expected;
        if (!ok) wrong++;
      }
    }
    if (!stopped) send();
  }
  pending = offset === pending.length ? Buffer.alloc(0) : Buffer.from(pending.subarray(offset));
});
socket.on("connect", () => socket.write(cer));
socket.on("error", (error) => {
  console.log(JSON.stringify({ error: error.message }));
  process.exit(1);
});

const warmUpMs = Number(warmUpText) * 1000;
const durationMs = Number(durationText) * 1000;
setTimeout(() => {
  counting = true;
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  setTimeout(() => {
    counting = false;
    stopped = true;
    const seconds = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    console.log(JSON.stringify({ answered, seconds, checksPerSecond: answered / seconds, wrongSamples: wrong, cpuCores: (cpu.user + cpu.system) / 1e6 / seconds }));
    socket.destroy();
    process.exit(0);
  }, durationMs);
}, warmUpMs);
