/**
 * The TLS flags every client command takes (`--ca`, `--cert`, `--key`,
 * `--server-name`), turned into grpc-js client options: cleartext when none
 * is given (the pilot on loopback), TLS or mutual TLS otherwise.
 */
import type { ClientOptions } from "../rpc/index.js";
import { channelCredentials, tlsChannelOptions } from "../trust/tls.js";

/** The flag definitions, for parseFlags. */
export const TLS_FLAGS = {
  ca: { type: "string" },
  cert: { type: "string" },
  key: { type: "string" },
  "server-name": { type: "string" },
} as const;

export const TLS_USAGE = "  --ca, --cert, --key, --server-name   TLS (and mutual TLS) to the server";

/** The credentials part of a client's options from the flags' values. */
export async function tlsClientOptions(values: { ca?: string | undefined; cert?: string | undefined; key?: string | undefined; "server-name"?: string | undefined }): Promise<Pick<ClientOptions, "credentials" | "channelOptions">> {
  const config = {
    ...(values.ca ? { ca: values.ca } : {}),
    ...(values.cert ? { cert: values.cert } : {}),
    ...(values.key ? { key: values.key } : {}),
    ...(values["server-name"] ? { serverName: values["server-name"] } : {}),
  };
  if (Object.keys(config).length === 0) return {};
  return { credentials: await channelCredentials(config), channelOptions: tlsChannelOptions(config) };
}
