/**
 * `imeifed attestation verify`: checks a registry's attestation offline with
 * nothing but its published JWKS, so customs can keep one as evidence and a
 * court can check it years later.
 */
import { readFile } from "node:fs/promises";
import { parseFlags, required } from "../args.js";
import { EXIT_OK, UsageError, type Command } from "../command.js";
import { ImeifedError } from "../../errors/index.js";
import { ATTESTATION_INVALID, verifyAttestation } from "../../trust/attestation.js";
import { readJwks } from "../../trust/keys.js";

/** Exit status when the attestation was checked and found invalid (1 means it could not be checked). */
export const EXIT_ATTESTATION_INVALID = 2;

const USAGE = `usage: imeifed attestation verify --jwks FILE [--iss ID] TOKEN

Verifies TOKEN (a compact JWS from a finding's "attestation" field; "-" reads
it from stdin) against the registry's public JWKS (GetKeys / GetRegistryKeys,
or the registry's .jwks.json file) and prints its claims as JSON.

  --jwks FILE   the issuing registry's public JWKS ({"keys": [...]})
  --iss ID      also require this issuer (e.g. registry-gb)

Exit status: 0 valid, 2 invalid (the message says why), 1 could not check
(unreadable JWKS, ...), 64 usage error.`;

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

export const command: Command = {
  summary: "verify a registry's signed attestation offline and print its claims",
  usage: USAGE,
  async run(argv) {
    const { values, positionals } = parseFlags(argv, { jwks: { type: "string" }, iss: { type: "string" } });
    const jwksPath = required(values.jwks, "jwks");
    if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? "give the attestation TOKEN (or - to read it from stdin)" : "give exactly one TOKEN");
    const token = positionals[0] === "-" ? (await readStdin()).trim() : positionals[0]!;
    const jwks = await readJwks(jwksPath);
    try {
      const claims = await verifyAttestation(token, jwks, values.iss ? { issuer: values.iss } : {});
      console.log(JSON.stringify(claims, null, 2));
      return EXIT_OK;
    } catch (error) {
      if (error instanceof ImeifedError && error.reason === ATTESTATION_INVALID) {
        console.error(`imeifed attestation verify: ${error.message}`);
        return EXIT_ATTESTATION_INVALID;
      }
      throw error;
    }
  },
};
