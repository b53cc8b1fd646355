/**
 * Builds the page from console/page/ with esbuild when the console starts,
 * so `npm ci` and `imeifed console` are all a user runs: the bundle is kept
 * in memory and served as /app.js.
 */
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { build, type Plugin } from "esbuild";

const PAGE_DIR = fileURLToPath(new URL("../page/", import.meta.url));

/**
 * The page reuses trust/attestation.ts's verifier, whose module also holds the
 * registry-side signer built on node:crypto. The page never signs, so that
 * import is given an empty stand-in; verifying runs on jose's WebCrypto build.
 */
const signerStandIn: Plugin = {
  name: "node-crypto-stand-in",
  setup(b) {
    b.onResolve({ filter: /^node:crypto$/ }, () => ({ path: "node-crypto", namespace: "stand-in" }));
    b.onLoad({ filter: /.*/, namespace: "stand-in" }, () => ({ contents: "export const KeyObject = undefined; export const sign = undefined; export const createHash = undefined;", loader: "js" }));
  },
};

export interface PageFiles {
  readonly html: string;
  readonly script: string;
  readonly css: string;
}

export async function buildPage(): Promise<PageFiles> {
  const result = await build({
    entryPoints: [`${PAGE_DIR}main.ts`],
    bundle: true,
    write: false,
    format: "esm",
    platform: "browser",
    target: "es2022",
    minify: true,
    sourcemap: false,
    legalComments: "none",
    logLevel: "silent",
    plugins: [signerStandIn],
  });
  const script = result.outputFiles[0]!.text;
  const [html, css] = await Promise.all([readFile(`${PAGE_DIR}index.html`, "utf8"), readFile(`${PAGE_DIR}console.css`, "utf8")]);
  return { html, script, css };
}
