/**
 * Asking a hub upstream (another gateway standing where a registry stands):
 * one Lookup per device, through the link's circuit breaker; the hub's
 * findings and unanswered registries join ours as they are. Its answers are
 * not cached here: the hub has its own cache and change streams.
 */
import { durationMs } from "@bufbuild/protobuf/wkt";
import type { DeviceKey } from "../../device/index.js";
import type { AnswerSheet } from "./answer-sheet.js";
import type { CheckOptions } from "./federated-answer.js";
import type { RegistryLink } from "../upstream/registry-link.js";
import { upstreamDeadline } from "../upstream/upstream-deadline.js";
import { unansweredOf } from "../upstream/upstream-outcome.js";

/** Asks hub `link` about `keys` into `sheet` (`marginMs`: kept back from the caller's deadline); never rejects (a failure lists the hub's countries as unanswered). */
export async function askHub(link: RegistryLink, keys: readonly DeviceKey[], opts: CheckOptions, sheet: AnswerSheet, marginMs: number): Promise<void> {
  const now = Date.now();
  const deadline = upstreamDeadline(opts.deadline, { marginMs, capMs: link.timeoutMs }, now);
  const countries = opts.countries?.length ? opts.countries.filter((c) => link.upstream.countries.includes(c)) : [];
  const unansweredCountries = countries.length > 0 ? countries : link.upstream.countries.length > 0 ? link.upstream.countries : [link.country];
  await Promise.all(
    keys.map(async (key, i) => {
      const outcome = await link.breaker.call(deadline.getTime() - now, async () =>
        link.hub.lookup({ imei: key, countries, purpose: opts.purpose }, { deadline, metadata: await link.metadata(opts.requester) }),
      );
      if (!outcome.ok) {
        for (const country of unansweredCountries) sheet.unanswered(i, unansweredOf(country, outcome.error, `hub ${link.country}: ${outcome.error.message}`));
        return;
      }
      const response = outcome.answer;
      for (const finding of response.findings) sheet.finding(i, finding);
      for (const unanswered of response.unanswered) sheet.unanswered(i, unanswered);
      if (response.fromCache) sheet.fromCache(i);
      sheet.age(i, response.cacheAge ? durationMs(response.cacheAge) : 0);
    }),
  );
}
