/**
 * FederationService.GetRegistryKeys: every registry's public keys, so partners
 * can verify attestations without reaching each registry. Keys are fetched
 * from the registries and kept for a while (they change only on rotation).
 */
import { create } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import { FederationService, GetRegistryKeysResponseSchema, RegistryKeysSchema, type GetRegistryKeysResponse } from "../gen/imeifed/v1/federation_pb.js";
import type { HandlerFor } from "../rpc/index.js";
import type { GatewayContext } from "./gateway-context.js";
import type { RegistryLink } from "./upstream/registry-link.js";

/** How long fetched keys are served before they are fetched again. */
export const REGISTRY_KEYS_TTL_MS = 60_000;

interface Fetched {
  jwksJson: string;
  at: number;
}

async function fetchKeys(link: RegistryLink, deadlineMs: number): Promise<string> {
  if (link.kind === "gateway") {
    const response = await link.hub.getRegistryKeys({}, { deadline: deadlineMs, metadata: await link.metadata() });
    return response.jwksJson;
  }
  const response = await link.client.getKeys({}, { deadline: deadlineMs, metadata: await link.metadata() });
  return response.jwksJson;
}

/** How long a registry whose keys could not be fetched is left alone: the method is public, so a
 * flood of calls must not turn into a flood of upstream calls to a registry that is down. */
export const REGISTRY_KEYS_RETRY_MS = 5_000;

/** Builds the GetRegistryKeys handler. */
export function createGetRegistryKeysHandler(gw: GatewayContext): HandlerFor<(typeof FederationService)["method"]["getRegistryKeys"]> {
  const fetched = new Map<string, Fetched>();
  const failedAt = new Map<string, number>();
  // Concurrent callers share one fetch per registry.
  const inFlight = new Map<string, Promise<void>>();
  const refresh = (link: RegistryLink, budgetMs: number): Promise<void> => {
    let pending = inFlight.get(link.country);
    if (!pending) {
      pending = fetchKeys(link, budgetMs)
        .then(
          (jwksJson) => {
            fetched.set(link.country, { jwksJson, at: Date.now() });
            failedAt.delete(link.country);
          },
          // Keep serving the keys fetched earlier: a registry that is down does not rotate.
          () => void failedAt.set(link.country, Date.now()),
        )
        .finally(() => inFlight.delete(link.country));
      inFlight.set(link.country, pending);
    }
    return pending;
  };
  return async (_request, ctx): Promise<GetRegistryKeysResponse> => {
    const now = Date.now();
    const budget = Math.min(gw.config.deadlines.upstreamMaxMs, ctx.deadline ? ctx.deadline.getTime() - now - gw.config.deadlines.marginMs : Infinity);
    await Promise.all(
      gw.links.map(async (link) => {
        const known = fetched.get(link.country);
        if (known && now - known.at < REGISTRY_KEYS_TTL_MS) return;
        if (now - (failedAt.get(link.country) ?? Number.NEGATIVE_INFINITY) < REGISTRY_KEYS_RETRY_MS) return;
        await refresh(link, Math.max(1, budget));
      }),
    );
    const registries = [];
    const merged: unknown[] = [];
    let oldest = now;
    for (const link of gw.links) {
      const known = fetched.get(link.country);
      if (!known) continue;
      oldest = Math.min(oldest, known.at);
      registries.push(create(RegistryKeysSchema, { country: link.country, jwksJson: known.jwksJson }));
      try {
        const keys = (JSON.parse(known.jwksJson) as { keys?: unknown[] }).keys;
        if (Array.isArray(keys)) merged.push(...keys);
      } catch {
        // A registry that serves broken JSON is left out of the merged set; its raw text is still listed.
      }
    }
    return create(GetRegistryKeysResponseSchema, {
      registries,
      jwksJson: JSON.stringify({ keys: merged }),
      fetchedAt: timestampFromDate(new Date(oldest)),
    });
  };
}
