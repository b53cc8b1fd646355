/**
 * `imeifed keys generate`: makes a principal's signing key pair, so a partner
 * can mint tokens (and a registry sign attestations) and hand its public JWKS
 * to the servers that must trust it.
 */
import { access, rename } from "node:fs/promises";
import { join, resolve } from "node:path";
import { parseFlags, required } from "../args.js";
import { EXIT_OK, UsageError, type Command } from "../command.js";
import { Code, ImeifedError } from "../../errors/index.js";
import { generatePrincipalKeys, isSigningAlgorithm, keyFileNames, readJwks, readPrivateJwk, writeJwks, writePrivateJwk } from "../../trust/keys.js";

const USAGE = `usage: imeifed keys generate --id ID [--out DIR] [--alg ES256|EdDSA] [--rotate]

Writes DIR/<ID>.private.jwk.json (the signing key: keep it secret, mode 0600)
and DIR/<ID>.jwks.json (the public JWKS: name it in the trust file of every
server that should accept ID).

  --id ID        principal id, for example police-es
  --out DIR      where to write the files (default: the current directory)
  --alg ALG      ES256 (default) or EdDSA (Ed25519)
  --rotate       the files exist: move the old private key aside as
                 <ID>.private.<kid>.jwk.json and add the new public key to the
                 JWKS next to the old one (remove the old one once no token
                 signed with it is in use)`;

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

export const command: Command = {
  summary: "generate a principal's signing key pair and public JWKS",
  usage: USAGE,
  async run(argv) {
    const { values } = parseFlags(argv, { id: { type: "string" }, out: { type: "string" }, alg: { type: "string" }, rotate: { type: "boolean" } }, false);
    const id = required(values.id, "id");
    if (!/^[a-z0-9][a-z0-9._-]*$/.test(id)) throw new UsageError(`--id: ${JSON.stringify(id)} is not a principal id (lower-case letters, digits, '.', '_' or '-')`);
    const alg = values.alg ?? "ES256";
    if (!isSigningAlgorithm(alg)) throw new UsageError(`--alg: ${JSON.stringify(alg)} is not supported; use ES256 or EdDSA`);
    const dir = resolve(values.out ?? ".");
    const names = keyFileNames(id);
    const paths = { privateJwk: join(dir, names.privateJwk), jwks: join(dir, names.jwks) };
    const [hasPrivate, hasJwks] = await Promise.all([exists(paths.privateJwk), exists(paths.jwks)]);
    if ((hasPrivate || hasJwks) && !values.rotate) {
      throw new ImeifedError(
        Code.FAILED_PRECONDITION,
        "KEY_FILE_EXISTS",
        `${hasPrivate ? paths.privateJwk : paths.jwks} already exists; pass --rotate to add a new key, or choose another --out`,
      );
    }
    const keys = await generatePrincipalKeys(id, alg);
    let publicKeys = keys.publicJwks.keys;
    if (values.rotate && hasPrivate) {
      const old = await readPrivateJwk(paths.privateJwk);
      await rename(paths.privateJwk, join(dir, `${id}.private.${old.kid ?? "old"}.jwk.json`));
    }
    if (values.rotate && hasJwks) publicKeys = [...(await readJwks(paths.jwks)).keys, ...publicKeys];
    await writePrivateJwk(paths.privateJwk, keys.privateJwk);
    await writeJwks(paths.jwks, { keys: publicKeys });
    console.log(
      [
        `wrote ${paths.privateJwk} (private, keep it secret)`,
        `wrote ${paths.jwks} (public, ${publicKeys.length} key${publicKeys.length === 1 ? "" : "s"})`,
        `kid ${keys.privateJwk.kid} (${alg})`,
      ].join("\n"),
    );
    return EXIT_OK;
  },
};
