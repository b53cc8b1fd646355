/**
 * A registry's answer to one bulk CheckDevices call, in either shape it may
 * come: sparse (the registry honoured `listed_only`: the listed devices'
 * checks and their positions, every other device PERMITTED for one max age),
 * or full (a registry that predates `listed_only`: one check per device).
 * The shapes are told apart by `unlisted_cache_max_age`, which only a sparse
 * answer sets, so an empty batch and a batch whose every device is listed are
 * read right either way.
 */
import type { Duration } from "@bufbuild/protobuf/wkt";
import { Code, ImeifedError } from "../../errors/index.js";
import type { CheckDevicesResponse, DeviceCheck } from "../../gen/imeifed/v1/registry_pb.js";

/** One check per asked device (`listedIndexes` absent), or the listed devices' checks at `listedIndexes` (ascending) with every other device PERMITTED for `unlistedCacheMaxAge`. */
export type BulkAnswer =
  | { readonly checks: readonly DeviceCheck[]; readonly listedIndexes?: undefined; readonly unlistedCacheMaxAge?: undefined }
  | { readonly checks: readonly DeviceCheck[]; readonly listedIndexes: readonly number[]; readonly unlistedCacheMaxAge: Duration };

/** The answer to `asked` devices that `response` holds; UNAVAILABLE (BATCH_MISMATCH) when it does not fit the question, as no device's answer can then be placed. */
export function bulkAnswerOf(response: CheckDevicesResponse, asked: number): BulkAnswer {
  const { checks, listedIndexes, unlistedCacheMaxAge } = response;
  if (unlistedCacheMaxAge === undefined) {
    if (checks.length !== asked || listedIndexes.length > 0) throw mismatch(`the registry answered ${checks.length} checks for ${asked} devices`);
    return { checks };
  }
  if (listedIndexes.length !== checks.length) throw mismatch(`the registry's sparse answer holds ${checks.length} checks at ${listedIndexes.length} positions`);
  let previous = -1;
  for (let j = 0; j < listedIndexes.length; j++) {
    const index = listedIndexes[j]!;
    if (index <= previous || index >= asked) throw mismatch(`the registry's sparse answer places a check at position ${index} of ${asked} devices, after ${previous}`);
    previous = index;
  }
  return { checks, listedIndexes, unlistedCacheMaxAge };
}

function mismatch(message: string): ImeifedError {
  return new ImeifedError(Code.UNAVAILABLE, "BATCH_MISMATCH", message);
}
