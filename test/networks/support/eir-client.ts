/**
 * Asks an N5g-eir front as 5G cores and tools do: over cleartext HTTP/2 with
 * prior knowledge (node:http2's client), or over HTTP/1.1 (node:http);
 * validates answers against the 3GPP schema file with ajv; starts a gateway
 * serving the front.
 */
import { readFileSync } from "node:fs";
import * as http from "node:http";
import * as http2 from "node:http2";
import { Ajv } from "ajv";
import { parse } from "yaml";
import { parseGatewayConfig, type GatewayConfigInput } from "../../../gateway/config.js";
import { startGateway, type GatewayOptions, type RunningGateway } from "../../../gateway/gateway-server.js";
import type { TestTrust } from "../../support/trust-fixture.js";

export interface EirAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json: unknown;
  /** Milliseconds from the request to the whole answer. */
  elapsedMs: number;
}

function jsonOf(body: string): unknown {
  try {
    return JSON.parse(body);
  } catch {
    return undefined;
  }
}

/** An h2c session (prior knowledge) to `url`, reused across requests. */
export class H2cEir {
  readonly #session: http2.ClientHttp2Session;

  constructor(url: string) {
    this.#session = http2.connect(url);
    this.#session.on("error", () => {});
  }

  get(path: string, headers: Record<string, string> = {}): Promise<EirAnswer> {
    const started = performance.now();
    return new Promise((resolve, reject) => {
      const stream = this.#session.request({ ":method": "GET", ":path": path, ...headers });
      let status = 0;
      let responseHeaders: http2.IncomingHttpHeaders = {};
      const chunks: Buffer[] = [];
      stream.on("response", (h) => {
        status = Number(h[":status"]);
        responseHeaders = h;
      });
      stream.on("data", (c: Buffer) => chunks.push(c));
      stream.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        resolve({ status, headers: responseHeaders as Record<string, string | string[] | undefined>, body, json: jsonOf(body), elapsedMs: performance.now() - started });
      });
      stream.on("error", reject);
      stream.end();
    });
  }

  close(): void {
    this.#session.close();
  }
}

/** One HTTP/1.1 GET (keep-alive off), as curl or a script would send it. */
export function http1Get(url: string, headers: Record<string, string> = {}): Promise<EirAnswer> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body, json: jsonOf(body), elapsedMs: performance.now() - started });
      });
    });
    req.on("error", reject);
  });
}

/** The condensed TS 29.511 OpenAPI description (common data types of TS 29.571 inlined). */
const SPEC = new URL("../../fixtures/ts29511-n5g-eir.yaml", import.meta.url);

/** Validators of the 3GPP schemas, compiled from the condensed OpenAPI file (test/fixtures/ts29511-n5g-eir.yaml). */
export function specValidators(): { problemDetails(value: unknown): string | undefined; eirResponse(value: unknown): string | undefined } {
  const spec = parse(readFileSync(SPEC, "utf8")) as object;
  // OpenAPI 3.0 schema objects are JSON Schema with extra keywords (description) ajv may ignore.
  const ajv = new Ajv({ strict: false, allErrors: true });
  ajv.addSchema(spec, "ts29511");
  const problem = ajv.compile({ $ref: "ts29511#/components/schemas/ProblemDetails" });
  const eir = ajv.compile({ $ref: "ts29511#/components/schemas/EirResponseData" });
  const check = (validate: typeof problem) => (value: unknown) => (validate(value) ? undefined : ajv.errorsText(validate.errors));
  return { problemDetails: check(problem), eirResponse: check(eir) };
}

/**
 * A gateway (principal `gateway`) serving N5g-eir on a free loopback port in front of `registries`,
 * with the trust fixture's keys; `config` adds to or overrides the config (networks.n5gEir included).
 */
export async function startEirGateway(
  trust: TestTrust,
  registries: { country: string; address: string; id: string }[],
  config: Partial<GatewayConfigInput>,
  options: Partial<GatewayOptions> = {},
): Promise<RunningGateway> {
  const gateway = await startGateway({
    config: parseGatewayConfig({ id: "gateway", listen: "127.0.0.1:0", trustFile: trust.trustFile, key: trust.privateKeyFile("gateway"), registries, ...config }),
    trust: trust.trust,
    tripwire: false,
    ...options,
  });
  if (!(await gateway.ready(5_000))) {
    await gateway.shutdown(0);
    throw new Error("the gateway did not catch up with every registry's change stream within 5 s");
  }
  return gateway;
}
