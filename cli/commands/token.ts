/**
 * `imeifed token`: mints a bearer token with a principal's private key, for
 * calling a registry or the gateway by hand (grpcurl, scripts) or from a
 * partner system that has no JWT library.
 */
import { parseDurationMs, parseFlags, required } from "../args.js";
import { EXIT_OK, UsageError, type Command } from "../command.js";
import { readPrivateJwk } from "../../trust/keys.js";
import { PRINCIPAL_KINDS, SCOPES, type Actor, type PrincipalKind, type Scope } from "../../trust/principal.js";
import { mintToken } from "../../trust/token-minter.js";
import { DEFAULT_MAX_TOKEN_LIFETIME_SEC } from "../../trust/token-verifier.js";

const USAGE = `usage: imeifed token --key FILE --iss ID --aud ID --scope "SCOPE ..." [--ttl 5m]
                     [--act-sub ID --act-kind KIND --act-country CC]

Prints a signed token; send it as "authorization: Bearer <token>".

  --key FILE       the private key (<id>.private.jwk.json from imeifed keys generate)
  --iss ID         your principal id, as in the server's trust file
  --aud ID         the server's principal id, for example registry-es or gateway
  --scope "..."    space-separated: ${SCOPES.join(", ")}
  --ttl DURATION   lifetime, for example 30s, 15m, 1h (default 5m, at most 1h)
  --act-sub ID     with --act-kind and --act-country: the real requester, when a
                   gateway or registry calls on someone's behalf`;

export const command: Command = {
  summary: "mint a bearer token for a principal",
  usage: USAGE,
  async run(argv) {
    const { values } = parseFlags(
      argv,
      {
        key: { type: "string" },
        iss: { type: "string" },
        aud: { type: "string" },
        scope: { type: "string" },
        ttl: { type: "string" },
        "act-sub": { type: "string" },
        "act-kind": { type: "string" },
        "act-country": { type: "string" },
      },
      false,
    );
    const keyFile = required(values.key, "key");
    const issuer = required(values.iss, "iss");
    const audience = required(values.aud, "aud");
    const scopes = required(values.scope, "scope").split(/[\s,]+/).filter(Boolean);
    if (scopes.length === 0) throw new UsageError("--scope: name at least one scope");
    for (const scope of scopes) {
      if (!(SCOPES as readonly string[]).includes(scope)) throw new UsageError(`--scope: ${scope} is not a scope; use ${SCOPES.join(", ")}`);
    }
    const ttlSec = Math.round(parseDurationMs(values.ttl ?? "5m", "ttl") / 1000);
    if (ttlSec < 1 || ttlSec > DEFAULT_MAX_TOKEN_LIFETIME_SEC) throw new UsageError(`--ttl: between 1s and 1h (servers refuse longer tokens); got ${values.ttl}`);

    const actFlags = [values["act-sub"], values["act-kind"], values["act-country"]];
    let act: Actor | undefined;
    if (actFlags.some((v) => v !== undefined)) {
      if (actFlags.some((v) => v === undefined || v === "")) throw new UsageError("--act-sub, --act-kind and --act-country go together");
      const [sub, kind, country] = actFlags as [string, string, string];
      if (!(PRINCIPAL_KINDS as readonly string[]).includes(kind)) throw new UsageError(`--act-kind: ${kind} is not a principal kind; use ${PRINCIPAL_KINDS.join(", ")}`);
      if (!/^[A-Z]{2}$/.test(country)) throw new UsageError(`--act-country: ${country} is not an ISO 3166-1 alpha-2 code such as GB`);
      act = { id: sub, kind: kind as PrincipalKind, country };
    }

    const privateJwk = await readPrivateJwk(keyFile);
    const token = await mintToken({ issuer, privateJwk, audience, scopes: scopes as Scope[], ttlSec, ...(act ? { act } : {}) });
    console.log(token);
    return EXIT_OK;
  },
};
