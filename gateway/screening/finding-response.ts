/**
 * A screening finding as the Screen stream sends it: the item, its index in
 * the manifest, the outcome and why, the device and the registries' findings.
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import type { ManifestItem, RegistryFinding, ScreeningOutcome, ScreenResponseSchema } from "../../gen/imeifed/v1/federation_pb.js";
import type { Device } from "../../device/index.js";

/** A response the screening stream sends (an init shape: the rpc adapter builds the message). */
export type ScreenResponseInit = MessageInitShape<typeof ScreenResponseSchema>;

export function findingResponse(
  outcome: ScreeningOutcome,
  index: number,
  item: ManifestItem,
  detail: string,
  device?: Device,
  findings: readonly RegistryFinding[] = [],
): ScreenResponseInit {
  return {
    message: {
      case: "finding",
      value: {
        outcome,
        item,
        itemIndex: BigInt(index),
        detail,
        findings: [...findings],
        ...(device ? { device: { deviceKey: device.key, imei: device.imei, tac: device.tac, issuingBody: device.issuingBody } } : {}),
      },
    },
  };
}

