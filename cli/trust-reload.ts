/**
 * Loads a server's trust file and re-reads it on SIGHUP, so an operator can
 * add a partner or revoke a key without a restart: tokens verified under the
 * old file are checked again (the authenticator forgets them on a new version).
 */
import { TrustStore } from "../trust/trust-store.js";
import type { Logger } from "../observability/index.js";

export async function loadTrustWithReload(path: string, logger: Logger): Promise<{ trust: TrustStore; stop(): void }> {
  const trust = await TrustStore.load(path);
  const onHangup = () => {
    trust.reload().then(
      () => logger.info("trust file reloaded", { path, version: trust.version }),
      // The old principals and keys stay in force; the operator fixes the file and sends SIGHUP again.
      (error: unknown) => logger.error("trust file not reloaded; the previous one stays in force", { path, error: String((error as Error)?.message ?? error) }),
    );
  };
  process.on("SIGHUP", onHangup);
  return { trust, stop: () => process.off("SIGHUP", onHangup) };
}
