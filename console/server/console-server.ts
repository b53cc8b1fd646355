/**
 * The console's HTTP server: the page (HTML, script, stylesheet) and the
 * ConsoleService over the Connect protocol, on one port. HTTP/1.1, which is
 * what a browser speaks to a cleartext origin.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type ServerResponse } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import { connectNodeAdapter } from "@connectrpc/connect-node";
import { createContextValues } from "@connectrpc/connect";
import { OFFICER } from "./officer.js";
import { OidcSignIn } from "./sign-in.js";
import { ConsoleService } from "../../gen/imeifed/console/v1/console_pb.js";
import { ActingPrincipals } from "./acting-principals.js";
import type { ConsoleConfig } from "./console-config.js";
import { consoleService } from "./console-service.js";
import { buildPage, type PageFiles } from "./page-bundle.js";

/** The largest request body: a manifest of about a million lines. */
export const MAX_REQUEST_BYTES = 64 * 1024 * 1024;
/** Open connections at most; past it new ones are refused at once. */
const MAX_CONNECTIONS = 256;

/** Every response of the page: no framing, no sniffing, scripts and styles from this origin only. */
const PAGE_HEADERS = {
  "content-security-policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-store",
};

export interface RunningConsole {
  /** http://host:port */
  readonly url: string;
  close(): Promise<void>;
}

function servePage(page: PageFiles) {
  return (req: { url?: string | undefined; method?: string | undefined }, response: unknown) => {
    // Only ever HTTP/1.1 here (createServer below), whatever the adapter's type allows.
    const res = response as ServerResponse;
    const path = (req.url ?? "/").split("?")[0];
    const file = path === "/" || path === "/index.html" ? { body: page.html, type: "text/html; charset=utf-8" } : path === "/app.js" ? { body: page.script, type: "text/javascript; charset=utf-8" } : path === "/console.css" ? { body: page.css, type: "text/css; charset=utf-8" } : undefined;
    if (!file || (req.method !== "GET" && req.method !== "HEAD")) {
      res.writeHead(404, { ...PAGE_HEADERS, "content-type": "text/plain; charset=utf-8" }).end("not found\n");
      return;
    }
    res.writeHead(200, { ...PAGE_HEADERS, "content-type": file.type });
    res.end(req.method === "HEAD" ? undefined : file.body);
  };
}

export async function startConsole(config: ConsoleConfig, options: { log?: (line: string) => void } = {}): Promise<RunningConsole> {
  const log = options.log ?? ((line: string) => console.error(line));
  const page = await buildPage();
  const principals = await ActingPrincipals.create(config);
  const workDir = await mkdtemp(join(tmpdir(), "imeifed-console-"));
  let signIn: OidcSignIn | undefined;
  try {
    signIn = config.signIn ? await OidcSignIn.create(config.signIn) : undefined;
  } catch (error) {
    await principals.close();
    await rm(workDir, { recursive: true, force: true });
    throw error;
  }
  const connect = connectNodeAdapter({
    routes: (router) => router.service(ConsoleService, consoleService({ principals, workDir, log })),
    readMaxBytes: MAX_REQUEST_BYTES,
    fallback: servePage(page),
    contextValues: (req) => createContextValues().set(OFFICER, signIn?.subjectOf(req)),
  });
  const server = createServer((req, res) => {
    if (!signIn) return void connect(req, res);
    void (async () => {
      if (await signIn.handle(req, res)) return;
      if (signIn.subjectOf(req) !== undefined) return void connect(req, res);
      // Not signed in: the page sends the officer to the provider; a call is refused as Connect says so.
      if (req.method === "GET" && !(req.url ?? "").startsWith(`/${ConsoleService.typeName}/`)) {
        res.writeHead(302, { location: "/auth/login", "cache-control": "no-store" }).end();
      } else {
        res.writeHead(401, { "content-type": "application/json" }).end(JSON.stringify({ code: "unauthenticated", message: "sign in first (/auth/login)" }));
      }
    })().catch((error: unknown) => {
      log(`console: sign-in failed: ${(error as Error)?.stack ?? String(error)}`);
      if (!res.headersSent) res.writeHead(500, { "content-type": "text/plain" }).end("sign-in failed\n");
    });
  });
  server.maxConnections = MAX_CONNECTIONS;
  server.listen(config.listen.port, config.listen.host);
  try {
    await Promise.race([once(server, "listening"), once(server, "error").then(([e]) => Promise.reject(e))]);
  } catch (error) {
    await principals.close();
    await rm(workDir, { recursive: true, force: true });
    throw error;
  }
  const address = server.address() as AddressInfo;
  const host = address.family === "IPv6" ? `[${address.address}]` : address.address;
  return {
    url: `http://${host}:${address.port}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await principals.close();
      await rm(workDir, { recursive: true, force: true });
    },
  };
}
