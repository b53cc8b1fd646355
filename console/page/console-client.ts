/** The page's typed client of ConsoleService, over the Connect protocol to the console that served it. */
import { createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { ConsoleService } from "../../gen/imeifed/console/v1/console_pb.js";

export type ConsoleClient = Client<typeof ConsoleService>;

export function consoleClient(): ConsoleClient {
  return createClient(ConsoleService, createConnectTransport({ baseUrl: location.origin, useBinaryFormat: true }));
}

/** The message of anything a call threw, as the console wrote it. */
export function messageOf(error: unknown): string {
  const e = error as { rawMessage?: string; message?: string };
  return e?.rawMessage ?? e?.message ?? String(error);
}
