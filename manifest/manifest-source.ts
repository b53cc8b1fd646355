/**
 * Where a manifest's bytes come from: a file on disk (the CLI), bytes held
 * in memory (the console's upload), or a stream. The reader checks a whole
 * manifest before any of it is screened and then reads it again to screen
 * it, so a source can be opened more than once; a stream can be read once
 * only, and is meant for callers that check and screen in one pass.
 */
import { createReadStream } from "node:fs";
import { ManifestRefusal } from "./manifest-refusal.js";

export interface ManifestSource {
  /** The file name (its extension tells a workbook from a delimited file). */
  readonly name: string;
  /** A fresh pass over the bytes. */
  open(): AsyncIterable<Uint8Array>;
}

/** A manifest file on disk, read in 256 KiB chunks. */
export function manifestFile(path: string, name = path): ManifestSource {
  return {
    name,
    open: () =>
      (async function* () {
        const file = createReadStream(path, { highWaterMark: 256 * 1024 });
        try {
          for await (const chunk of file as AsyncIterable<Buffer>) yield chunk as Uint8Array;
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          if (code === "ENOENT" || code === "EACCES" || code === "EISDIR") throw new ManifestRefusal(name, undefined, `cannot read the manifest: ${code}`);
          throw error;
        } finally {
          file.destroy();
        }
      })(),
  };
}

/** A manifest held in memory (an upload), handed out in slices so the reader's chunking stays the same. */
export function manifestBytes(name: string, bytes: Uint8Array): ManifestSource {
  const slice = 256 * 1024;
  return {
    name,
    open: () =>
      (async function* () {
        for (let at = 0; at < bytes.length; at += slice) yield bytes.subarray(at, Math.min(bytes.length, at + slice));
      })(),
  };
}

/** A manifest arriving as a stream: it can be opened once. */
export function manifestStream(name: string, stream: AsyncIterable<Uint8Array>): ManifestSource {
  let opened = false;
  return {
    name,
    open() {
      if (opened) throw new Error(`manifest ${name}: a stream can be read once; give the reader a file or bytes to check the manifest before screening it`);
      opened = true;
      return stream;
    },
  };
}
