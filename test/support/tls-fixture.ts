/**
 * Throw-away PKI for TLS tests, made with the `openssl` command at test time:
 * a CA, a server certificate for localhost and 127.0.0.1, a client
 * certificate, and a second, unrelated CA with its own client certificate (a
 * stranger). Nothing is checked in; everything lives in one temp dir.
 */
import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** PEM file paths of one certificate and its key. */
export interface CertFiles {
  cert: string;
  key: string;
}

export interface TestPki {
  dir: string;
  /** The CA that signs the server and client certificates. */
  ca: string;
  server: CertFiles;
  /** A client certificate signed by `ca` (CN = the principal id given, default police-es). */
  client: CertFiles;
  /** Another CA, trusted by nobody here. */
  otherCa: string;
  /** A client certificate signed by `otherCa`. */
  strangerClient: CertFiles;
  cleanup(): Promise<void>;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  await run("openssl", args, { cwd });
}

async function newCa(dir: string, name: string): Promise<CertFiles> {
  const files = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  await openssl(
    ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", files.key, "-out", files.cert, "-days", "2", "-subj", `/CN=${name}`],
    dir,
  );
  return files;
}

async function issue(dir: string, ca: CertFiles, name: string, subject: string, extensions: string): Promise<CertFiles> {
  const files = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  await writeFile(ext, extensions);
  await openssl(["req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", files.key, "-out", csr, "-subj", subject], dir);
  const serial = `0x${Math.floor(Math.random() * 2 ** 48).toString(16)}`;
  await openssl(["x509", "-req", "-in", csr, "-CA", ca.cert, "-CAkey", ca.key, "-set_serial", serial, "-out", files.cert, "-days", "2", "-extfile", ext], dir);
  return files;
}

/** Generates the test PKI; call `cleanup()` when done. */
export async function createTestPki(clientId = "police-es"): Promise<TestPki> {
  const dir = await mkdtemp(join(tmpdir(), "imeifed-tls-"));
  try {
    const [ca, otherCa] = await Promise.all([newCa(dir, "imeifed-test-ca"), newCa(dir, "stranger-ca")]);
    const [server, client, strangerClient] = await Promise.all([
      issue(dir, ca, "server", "/CN=localhost", "basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"),
      issue(dir, ca, "client", `/CN=${clientId}`, "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n"),
      issue(dir, otherCa, "stranger", "/CN=stranger", "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n"),
    ]);
    return { dir, ca: ca.cert, server, client, otherCa: otherCa.cert, strangerClient, cleanup: () => rm(dir, { recursive: true, force: true }) };
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
}
