import assert from "node:assert/strict";
import { once } from "node:events";
import { createServer, type Server } from "node:http";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import Provider from "oidc-provider";
import type { Browser } from "playwright-core";
import { consoleConfigFrom, type ConsoleConfigInput } from "../../console/server/console-config.js";
import { startConsole, type RunningConsole } from "../../console/server/console-server.js";
import { keyFileNames } from "../../trust/keys.js";
import { ImeifedError } from "../../errors/index.js";
import { launchChromium, startPilot, type PilotFederation } from "./pilot-console.js";

async function freePort(): Promise<number> {
  const probe = createServer();
  probe.listen(0, "127.0.0.1");
  await once(probe, "listening");
  const { port } = probe.address() as AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  return port;
}

/** A real OpenID Connect provider (oidc-provider with its development login pages: any login and password sign in). */
async function startProvider(redirectUri: string): Promise<{ issuer: string; server: Server }> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const provider = new Provider(issuer, {
    clients: [{ client_id: "console", client_secret: "console-secret", redirect_uris: [redirectUri], grant_types: ["authorization_code"], response_types: ["code"], token_endpoint_auth_method: "client_secret_post" }],
    findAccount: (_ctx: unknown, id: string) => ({ accountId: id, claims: () => ({ sub: id }) }),
    cookies: { keys: ["test-cookie-key"] },
    pkce: { required: () => true },
  });
  server.on("request", provider.callback());
  return { issuer, server };
}

describe("console sign-in (OpenID Connect)", function () {
  this.timeout(120_000);
  let pilot: PilotFederation;
  let browser: Browser;
  let provider: { issuer: string; server: Server };
  let running: RunningConsole;
  let port: number;

  const configInput = (extra: Partial<ConsoleConfigInput>): ConsoleConfigInput => ({
    listen: `127.0.0.1:${port}`,
    gateway: { address: pilot.manifest.gateway },
    principals: [{ id: "police-gb", kind: "police", country: "GB", key: join("keys", keyFileNames("police-gb").privateJwk) }],
    ...extra,
  });

  before(async () => {
    [pilot, browser] = await Promise.all([startPilot(), launchChromium()]);
    port = await freePort();
    provider = await startProvider(`http://127.0.0.1:${port}/auth/callback`);
    const config = await consoleConfigFrom(
      configInput({
        signIn: { issuer: provider.issuer, clientId: "console", clientSecret: "console-secret", redirectUri: `http://127.0.0.1:${port}/auth/callback`, allowInsecureIssuer: true },
      }),
      pilot.dir,
    );
    running = await startConsole(config, { log: () => {} });
  });
  after(async () => {
    await running?.close();
    provider?.server.close();
    await browser?.close();
    await pilot?.stop();
  });

  it("refuses to start on a non-loopback address without a sign-in provider", async () => {
    await assert.rejects(consoleConfigFrom(configInput({ listen: "0.0.0.0:0" }), pilot.dir), (error: unknown) => error instanceof ImeifedError && error.reason === "INSECURE_LISTEN" && /configure signIn/.test(error.message));
  });

  it("refuses a call before sign-in, sends the page to the provider, and after signing in looks up with the officer's subject in the registries' audit purpose", async () => {
    const unsigned = await fetch(`${running.url}/imeifed.console.v1.ConsoleService/GetSession`, { method: "POST", headers: { "content-type": "application/json" }, body: "{}" });
    assert.equal(unsigned.status, 401);
    assert.equal(((await unsigned.json()) as { code: string }).code, "unauthenticated");

    const context = await browser.newContext();
    try {
      const page = await context.newPage();
      // The provider's development pages load a web font; nothing here reaches the internet.
      await page.route(/fonts\.googleapis\.com/, (route) => route.abort());
      await page.goto(running.url);
      assert.ok(page.url().startsWith(provider.issuer), `sent to the provider, at ${page.url()}`);
      await page.locator("input[name=login]").fill("officer-4711");
      await page.locator("input[name=password]").fill("any");
      await page.locator("button[type=submit]").click();
      await page.locator("button[type=submit]", { hasText: "Continue" }).click();
      await page.waitForURL(`${running.url}/`);
      assert.equal(await page.locator("#officer").innerText(), "officer-4711");
      const cookies = await context.cookies(running.url);
      const session = cookies.find((c) => c.name === "imeifed_console_session");
      assert.ok(session && session.httpOnly && session.sameSite === "Lax");

      await page.getByLabel("IMEI or IMEISV").fill(pilot.manifest.samples.prohibited[0]!);
      await page.getByLabel("Case reference").fill("CASE-OIDC-1");
      await page.getByRole("button", { name: "Check", exact: true }).click();
      await page.locator("#verdict").waitFor();
      assert.equal(await page.locator("#verdict").innerText(), "PROHIBITED");

      // The Japanese registry (which lists the sample) recorded the officer in the question's purpose.
      const { openAuditLog } = await import("../../trust/audit/index.js");
      const audit = await openAuditLog({ sqlite: join(pilot.dir, "data", "jp.sqlite") }, { readOnly: true });
      try {
        let purposes: string[] = [];
        for (let i = 0; i < 40 && !purposes.includes("CASE-OIDC-1 (officer officer-4711)"); i++) {
          await new Promise((resolve) => setTimeout(resolve, 250));
          purposes = (await audit.query({ requester: "police-gb" })).map((r) => r.purpose);
        }
        assert.ok(purposes.includes("CASE-OIDC-1 (officer officer-4711)"), JSON.stringify(purposes));
      } finally {
        await audit.close();
      }

      // Signing out ends the console's session: its cookie no longer admits a call.
      const call = (cookie: string) =>
        fetch(`${running.url}/imeifed.console.v1.ConsoleService/GetSession`, { method: "POST", headers: { "content-type": "application/json", cookie }, body: "{}" });
      const signedIn = await call(`imeifed_console_session=${session.value}`);
      assert.equal(signedIn.status, 200);
      assert.equal(((await signedIn.json()) as { officer: string }).officer, "officer-4711");
      await Promise.all([page.waitForResponse((r) => r.url().endsWith("/auth/logout")), page.locator("a.sign-out").click()]);
      assert.equal((await call(`imeifed_console_session=${session.value}`)).status, 401);
    } finally {
      await context.close();
    }
  });
});
