/**
 * TLS and mutual TLS for every listener and every upstream channel, from
 * PEM file paths in config. Files are read and checked once at start so a
 * wrong path stops the server with a message naming it, instead of failing
 * each handshake.
 */
import { readFile } from "node:fs/promises";
import { credentials, ServerCredentials, type ChannelCredentials, type ChannelOptions } from "@grpc/grpc-js";
import { z } from "zod";
import { Code, ImeifedError } from "../errors/index.js";

/** A listener's TLS: its certificate chain and key, and for mutual TLS the CA that signs client certificates. */
export const serverTlsSchema = z
  .object({
    cert: z.string().min(1),
    key: z.string().min(1),
    /** CA bundle for client certificates; required with `requireClientCert`. */
    ca: z.string().min(1).optional(),
    /** Mutual TLS: refuse clients that present no certificate signed by `ca`. */
    requireClientCert: z.boolean().default(false),
  })
  .strict()
  .refine((tls) => !tls.requireClientCert || tls.ca !== undefined, { message: "mutual TLS (requireClientCert) needs ca: the CA that signs client certificates", path: ["ca"] });

/** An upstream channel's TLS: the CA to trust (default: the system roots) and, for mutual TLS, our certificate and key. */
export const clientTlsSchema = z
  .object({
    ca: z.string().min(1).optional(),
    cert: z.string().min(1).optional(),
    key: z.string().min(1).optional(),
    /** Name to check in the server's certificate when it differs from the address dialled. */
    serverName: z.string().min(1).optional(),
  })
  .strict()
  .refine((tls) => (tls.cert === undefined) === (tls.key === undefined), { message: "give both cert and key for a client certificate, or neither" });

export type ServerTlsConfig = z.input<typeof serverTlsSchema>;
export type ClientTlsConfig = z.input<typeof clientTlsSchema>;

function invalid(message: string, cause?: unknown): ImeifedError {
  return new ImeifedError(Code.FAILED_PRECONDITION, "TLS_CONFIG_INVALID", message, cause === undefined ? {} : { cause });
}

function parse<T extends z.ZodTypeAny>(schema: T, config: unknown, what: string): z.infer<T> {
  const parsed = schema.safeParse(config);
  if (!parsed.success) throw invalid(`${what} is invalid: ${parsed.error.issues.map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`).join("; ")}`);
  return parsed.data;
}

async function readPem(path: string, field: string): Promise<Buffer> {
  let pem: Buffer;
  try {
    pem = await readFile(path);
  } catch (error) {
    throw invalid(`tls.${field}: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`, error);
  }
  if (!pem.includes("-----BEGIN ")) throw invalid(`tls.${field}: ${path} is not a PEM file`);
  return pem;
}

/** A listener's PEM files, read and checked: for listeners that are not grpc-js (the Diameter S13 peer, on node:tls). */
export async function serverTlsMaterial(config: ServerTlsConfig): Promise<{ cert: Buffer; key: Buffer; ca: Buffer | null; requireClientCert: boolean }> {
  const tls = parse(serverTlsSchema, config, "server tls");
  const [cert, key, ca] = await Promise.all([readPem(tls.cert, "cert"), readPem(tls.key, "key"), tls.ca === undefined ? null : readPem(tls.ca, "ca")]);
  return { cert, key, ca, requireClientCert: tls.requireClientCert };
}

/** Builds grpc-js server credentials (TLS, or mutual TLS with `requireClientCert`). */
export async function serverCredentials(config: ServerTlsConfig): Promise<ServerCredentials> {
  const { cert, key, ca, requireClientCert } = await serverTlsMaterial(config);
  const tls = { requireClientCert };
  try {
    return ServerCredentials.createSsl(ca, [{ cert_chain: cert, private_key: key }], tls.requireClientCert);
  } catch (error) {
    throw invalid(`server tls: ${(error as Error).message}`, error);
  }
}

/** Builds grpc-js channel credentials for an upstream (TLS, or mutual TLS with `cert` and `key`). */
export async function channelCredentials(config: ClientTlsConfig): Promise<ChannelCredentials> {
  const tls = parse(clientTlsSchema, config, "client tls");
  const [ca, cert, key] = await Promise.all([
    tls.ca === undefined ? null : readPem(tls.ca, "ca"),
    tls.cert === undefined ? null : readPem(tls.cert, "cert"),
    tls.key === undefined ? null : readPem(tls.key, "key"),
  ]);
  try {
    return credentials.createSsl(ca, key, cert);
  } catch (error) {
    throw invalid(`client tls: ${(error as Error).message}`, error);
  }
}

/** Channel options a client TLS config implies (the expected server name, when set). */
export function tlsChannelOptions(config: ClientTlsConfig): ChannelOptions {
  return config.serverName === undefined ? {} : { "grpc.ssl_target_name_override": config.serverName, "grpc.default_authority": config.serverName };
}
