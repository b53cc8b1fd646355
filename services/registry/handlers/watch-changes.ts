/**
 * WatchChanges: the registry's change log as a resumable stream. It replays
 * from `after_sequence`, marks the end of the backlog with `caught_up`, then
 * stays open and pushes each new change as soon as its commit wakes the
 * ChangeFeed (in this process, or through NOTIFY from another one).
 *
 * Every message carries the registry's epoch; a caller holding another
 * epoch's sequences, or a sequence beyond the last one, is told to resume
 * from 0 (FAILED_PRECONDITION), so a rebuilt database never silently
 * skips changes. Cancelling the call ends the stream with nothing left
 * behind (the feed's wait removes its listener and timer).
 */
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import type { RegistryService, WatchChangesRequest, WatchChangesResponseSchema } from "../../../gen/imeifed/v1/registry_pb.js";
import { Code, ImeifedError, quote } from "../../../errors/index.js";
import type { CallContext, HandlerFor } from "../../../rpc/index.js";
import { requesterOf } from "../../../trust/principal.js";
import { assertSharedWith, sharedFinding, type FindingAudience } from "../finding-of.js";
import { shuttingDown, type RegistryContext } from "../registry-context.js";
import { callerOf } from "../../../trust/principal.js";
import type { StoredChange } from "../store/registry-store.js";

type WatchChangesMessage = MessageInitShape<typeof WatchChangesResponseSchema>;

/** Changes read per query; also how many are signed together when nobody signed them yet. */
const PAGE = 500;

async function messagesOf(rc: RegistryContext, page: readonly StoredChange[], audience: FindingAudience): Promise<WatchChangesMessage[]> {
  const attestations = await rc.attestations.forChanges(page);
  return Promise.all(
    page.map(async (change, i) => {
      const attestation = attestations[i]!;
      const holding = change.holding;
      // A report that holds the device is attested by its change; only another holder needs its own signature.
      const findingAttestation = holding === undefined ? "" : holding.id === change.record.id ? attestation : await rc.attestations.forRecord(holding);
      return {
        epoch: rc.store.epoch,
        event: {
          case: "change" as const,
          value: {
            sequence: BigInt(change.seq),
            kind: change.kind,
            deviceKey: change.deviceKey,
            status: change.status,
            ...(holding ? { finding: sharedFinding(holding, findingAttestation, audience) } : {}),
            changedAt: timestampFromMs(change.changedAt),
            recordId: change.record.id,
            verified: change.record.crimeReference !== "",
            attestation,
          },
        },
      };
    }),
  );
}

export function watchChanges(rc: RegistryContext): HandlerFor<typeof RegistryService.method.watchChanges> {
  return async function* (request: WatchChangesRequest, ctx: CallContext) {
    const audience: FindingAudience = {
      country: rc.country,
      requester: requesterOf(callerOf(ctx)),
      policy: rc.sharing,
      caseTokenSecret: rc.store.caseTokenSecret,
    };
    assertSharedWith(audience);
    const { store } = rc;
    if (request.epoch !== "" && request.epoch !== store.epoch) {
      throw new ImeifedError(
        Code.FAILED_PRECONDITION,
        "EPOCH_CHANGED",
        `epoch ${quote(request.epoch)} is not this registry's epoch ${store.epoch}: its sequences restarted; drop what you hold from this registry and resume from after_sequence 0`,
      );
    }
    const last = await store.lastSequence();
    // from_head with a backlog: the last head_backlog changes, never before after_sequence (a follower's floor).
    let after = request.fromHead ? Math.max(Number(request.afterSequence), last - Number(request.headBacklog)) : Number(request.afterSequence);
    if (after > last) {
      throw new ImeifedError(
        Code.FAILED_PRECONDITION,
        "SEQUENCE_AHEAD",
        `after_sequence ${request.afterSequence} is beyond this registry's last sequence ${last} (epoch ${store.epoch}); drop what you hold from this registry and resume from 0`,
      );
    }
    let caughtUp = false;
    for (;;) {
      if (rc.closing()) throw shuttingDown();
      // Taken before the read: a commit landing after it makes the wait below return at once.
      const version = store.changeFeed.version;
      const page = await store.changesAfter(after, PAGE);
      if (page.length > 0) {
        for (const message of await messagesOf(rc, page, audience)) yield message;
        after = page.at(-1)!.seq;
      }
      if (page.length === PAGE) continue;
      if (!caughtUp) {
        caughtUp = true;
        yield { epoch: store.epoch, event: { case: "caughtUp", value: { sequence: BigInt(after) } } };
      }
      if (!(await store.changeFeed.wait(version, ctx.signal))) return;
    }
  };
}
