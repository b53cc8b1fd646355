/**
 * Names the device a span is about without putting personal data in a trace:
 * the IMEI is masked (TAC kept, serial hidden), as RFC 7254 asks for logs.
 */
import { trace, type Span } from "@opentelemetry/api";
import { mask } from "../device/index.js";

/** Span attribute holding the masked IMEI (or device key) of the device a call is about. */
export const DEVICE_ATTRIBUTE = "imeifed.device.imei_masked";

/** Records the masked device on `span` (the active span by default); a no-op without one. */
export function recordDevice(imeiOrKey: string, span: Span | undefined = trace.getActiveSpan()): void {
  span?.setAttribute(DEVICE_ATTRIBUTE, mask(imeiOrKey));
}
