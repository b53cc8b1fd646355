/**
 * The Screen stream's requests, checked: the first must describe the shipment
 * (with its declaration reference, the purpose every registry question is
 * asked under), every later one must carry items. A caller who gets the order
 * wrong hears exactly what to send instead.
 */
import { invalidArgument, quote } from "../../errors/index.js";
import { UnansweredPolicy, type Shipment } from "../../gen/imeifed/v1/federation_pb.js";
import type { ManifestBatch } from "./manifest-batch.js";
import type { ScreenRequestRead } from "./screen-request-reader.js";

/** A shipment whose fields were checked; an unset unanswered-policy reads as HOLD. */
export interface ScreeningShipment {
  readonly declarationReference: string;
  readonly exporter: string;
  /** ISO 3166-1 alpha-2, upper case; empty when the caller did not say. */
  readonly destinationCountry: string;
  readonly onUnanswered: UnansweredPolicy.HOLD | UnansweredPolicy.PASS;
}

/** Checks the Shipment message (INVALID_ARGUMENT naming the field otherwise); its texts' lengths and characters were checked as it entered (contract/). */
export function checkShipment(shipment: Shipment): ScreeningShipment {
  const declarationReference = shipment.declarationReference.trim();
  if (declarationReference === "") {
    throw invalidArgument("shipment.declaration_reference", "DECLARATION_REFERENCE_REQUIRED", "is required: give the export declaration the screening is for");
  }
  const destinationCountry = shipment.destinationCountry.trim().toUpperCase();
  if (destinationCountry !== "" && !/^[A-Z]{2}$/.test(destinationCountry)) {
    throw invalidArgument("shipment.destination_country", "BAD_COUNTRY", `${quote(shipment.destinationCountry)} is not an ISO 3166-1 alpha-2 code such as HK`);
  }
  const onUnanswered = shipment.onUnanswered === UnansweredPolicy.PASS ? UnansweredPolicy.PASS : UnansweredPolicy.HOLD;
  if (shipment.onUnanswered !== UnansweredPolicy.UNSPECIFIED && shipment.onUnanswered !== UnansweredPolicy.HOLD && shipment.onUnanswered !== UnansweredPolicy.PASS) {
    throw invalidArgument("shipment.on_unanswered", "BAD_POLICY", `${shipment.onUnanswered} is not HOLD (1) or PASS (2)`);
  }
  return { declarationReference, exporter: shipment.exporter.trim(), destinationCountry, onUnanswered };
}

/** Reads the Shipment that must open the stream. */
export async function readShipment(requests: AsyncIterator<ScreenRequestRead>): Promise<ScreeningShipment> {
  const first = await requests.next();
  if (first.done) throw invalidArgument("shipment", "SHIPMENT_REQUIRED", "the stream ended before the shipment: send the Shipment first, then the items");
  const request = first.value;
  if (request.case !== "shipment") {
    throw invalidArgument("shipment", "SHIPMENT_REQUIRED", "the first request must be the Shipment (declaration reference, destination, policy); items come after it");
  }
  return checkShipment(request.shipment);
}

/** The item batches that follow the Shipment (read by position: see manifest-batch.ts); a second Shipment or an empty request is refused. */
export async function* itemBatches(requests: AsyncIterator<ScreenRequestRead>): AsyncGenerator<ManifestBatch> {
  let n = 1;
  try {
    for (;;) {
      const next = await requests.next();
      if (next.done) return;
      const request = next.value;
      if (request.case === "items") yield request.batch;
      else if (request.case === "shipment") {
        throw invalidArgument(`requests[${n}]`, "SHIPMENT_REPEATED", "a second Shipment: one screening stream screens one shipment; open another stream for the next");
      } else {
        throw invalidArgument(`requests[${n}]`, "REQUEST_EMPTY", "carries neither a Shipment nor items");
      }
      n++;
    }
  } finally {
    await requests.return?.();
  }
}
