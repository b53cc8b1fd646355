/**
 * Officers' sign-in with the agency's OpenID Connect provider (openid-client):
 * the authorization code flow with PKCE and state; a signed-in officer gets a
 * random session id in an HttpOnly cookie, and the console keeps who it
 * belongs to (the ID token's `sub`). Nothing from the provider reaches the
 * page either: no ID token, no access token.
 */
import { randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import * as oidc from "openid-client";
import { LRUCache } from "lru-cache";
import { Code, ImeifedError } from "../../errors/index.js";

export interface SignInConfig {
  readonly issuer: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** Where the provider sends the officer back: this console's `/auth/callback`, as the provider has it registered. */
  readonly redirectUri: string;
  /** An http:// issuer (a provider on this machine, as in the tests); never for a real provider. */
  readonly allowInsecureIssuer: boolean;
  readonly sessionTtlSec: number;
}

/** The session cookie's name. */
export const SESSION_COOKIE = "imeifed_console_session";
/** Sessions held at most; past it the oldest is signed out. */
const MAX_SESSIONS = 10_000;
/** Sign-ins in progress held at most, and for how long. */
const MAX_PENDING = 1_000;
const PENDING_TTL_MS = 10 * 60 * 1000;
/** The longest officer id the console accepts (it travels in every audited purpose). */
export const SUBJECT_LIMIT = 64;

interface Pending {
  readonly verifier: string;
  readonly state: string;
  readonly nonce: string;
}

function cookieOf(req: { headers: IncomingMessage["headers"] }, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? "").split(";")) {
    const [k, ...v] = part.trim().split("=");
    if (k === name) return v.join("=");
  }
  return undefined;
}

export class OidcSignIn {
  readonly #config: SignInConfig;
  readonly #provider: oidc.Configuration;
  readonly #secure: boolean;
  readonly #sessions: LRUCache<string, { subject: string }>;
  readonly #pending = new LRUCache<string, Pending>({ max: MAX_PENDING, ttl: PENDING_TTL_MS });

  private constructor(config: SignInConfig, provider: oidc.Configuration) {
    this.#config = config;
    this.#provider = provider;
    this.#secure = new URL(config.redirectUri).protocol === "https:";
    this.#sessions = new LRUCache({ max: MAX_SESSIONS, ttl: config.sessionTtlSec * 1000 });
  }

  /** Reads the provider's discovery document; a provider that cannot be reached stops the console's start. */
  static async create(config: SignInConfig): Promise<OidcSignIn> {
    try {
      const provider = await oidc.discovery(new URL(config.issuer), config.clientId, config.clientSecret, undefined, config.allowInsecureIssuer ? { execute: [oidc.allowInsecureRequests] } : undefined);
      return new OidcSignIn(config, provider);
    } catch (error) {
      throw new ImeifedError(Code.FAILED_PRECONDITION, "AUTH_CONFIG_INVALID", `signIn.issuer: cannot read ${config.issuer}'s OpenID configuration: ${(error as Error).message}`, { cause: error });
    }
  }

  /** The signed-in officer of a request, if any. */
  subjectOf(req: { headers: IncomingMessage["headers"] }): string | undefined {
    const id = cookieOf(req, SESSION_COOKIE);
    return id ? this.#sessions.get(id)?.subject : undefined;
  }

  /** Serves /auth/login, /auth/callback and /auth/logout; false for any other path. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const url = new URL(req.url ?? "/", this.#config.redirectUri);
    if (url.pathname === "/auth/login") {
      const pendingId = randomBytes(18).toString("base64url");
      const pending: Pending = { verifier: oidc.randomPKCECodeVerifier(), state: oidc.randomState(), nonce: oidc.randomNonce() };
      this.#pending.set(pendingId, pending);
      const target = oidc.buildAuthorizationUrl(this.#provider, {
        redirect_uri: this.#config.redirectUri,
        scope: "openid",
        code_challenge: await oidc.calculatePKCECodeChallenge(pending.verifier),
        code_challenge_method: "S256",
        state: pending.state,
        nonce: pending.nonce,
      });
      res.writeHead(302, { location: target.href, "set-cookie": this.#cookie("imeifed_console_signin", pendingId, PENDING_TTL_MS / 1000), "cache-control": "no-store" }).end();
      return true;
    }
    if (url.pathname === "/auth/callback") {
      const pendingId = cookieOf(req, "imeifed_console_signin");
      const pending = pendingId ? this.#pending.get(pendingId) : undefined;
      if (!pending) return this.#refuse(res, 400, "this sign-in is unknown or expired; start again at /auth/login");
      this.#pending.delete(pendingId!);
      let subject: string;
      try {
        const tokens = await oidc.authorizationCodeGrant(this.#provider, url, { pkceCodeVerifier: pending.verifier, expectedState: pending.state, expectedNonce: pending.nonce, idTokenExpected: true });
        subject = String(tokens.claims()?.sub ?? "");
      } catch {
        return this.#refuse(res, 400, "the provider's answer did not check out; start again at /auth/login");
      }
      if (subject === "" || subject.length > SUBJECT_LIMIT || /[\u0000-\u001f\u007f]/.test(subject)) return this.#refuse(res, 403, `the provider's subject must be 1 to ${SUBJECT_LIMIT} plain characters`);
      const sessionId = randomBytes(32).toString("base64url");
      this.#sessions.set(sessionId, { subject });
      res.writeHead(302, { location: "/", "set-cookie": [this.#cookie(SESSION_COOKIE, sessionId, this.#config.sessionTtlSec), this.#cookie("imeifed_console_signin", "", 0)], "cache-control": "no-store" }).end();
      return true;
    }
    if (url.pathname === "/auth/logout") {
      const id = cookieOf(req, SESSION_COOKIE);
      if (id) this.#sessions.delete(id);
      res.writeHead(302, { location: "/auth/login", "set-cookie": this.#cookie(SESSION_COOKIE, "", 0), "cache-control": "no-store" }).end();
      return true;
    }
    return false;
  }

  #cookie(name: string, value: string, maxAgeSec: number): string {
    // Lax, not Strict: the provider's redirect back is a cross-site navigation, and the session must hold on the page it lands on.
    return `${name}=${value}; Path=/; HttpOnly; SameSite=Lax; Max-Age=${Math.floor(maxAgeSec)}${this.#secure ? "; Secure" : ""}`;
  }

  #refuse(res: ServerResponse, status: number, message: string): true {
    res.writeHead(status, { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store" }).end(`${message}\n`);
    return true;
  }
}
