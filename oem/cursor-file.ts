/**
 * The consumer's memory between runs: the cursor of the last event it handled
 * and the ids of the events it handled recently, in one small JSON file.
 *
 * It is written atomically (a temp file in the same directory, flushed to
 * disk, then renamed over the old one), so a crash or power loss leaves either
 * the old state or the new one, never a torn file. Restarting with the file
 * resumes the feed right after the last handled event.
 */
import { open, readFile, rename, rm } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { Code, ImeifedError } from "../errors/index.js";

/** What the cursor file holds. */
export interface ConsumerState {
  /** The last cursor received (of the last handled event, or sent alone); empty = none yet (a first run replays the history). */
  readonly cursor: string;
  /** Ids of recently handled events, oldest first, so a redelivered event is recognised after a restart. */
  readonly recentEventIds: readonly string[];
}

/** The state of a consumer that has never run. */
export const EMPTY_STATE: ConsumerState = { cursor: "", recentEventIds: [] };

const FILE_VERSION = 1;

/** Reads the state; a missing file is the empty state, a damaged one an error (never silently start over). */
export async function readCursorFile(path: string): Promise<ConsumerState> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return EMPTY_STATE;
    throw error;
  }
  const damaged = (problem: string) =>
    new ImeifedError(
      Code.FAILED_PRECONDITION,
      "CURSOR_FILE_DAMAGED",
      `cursor file ${path} ${problem}; restore it from a backup, or delete it to replay the feed from the beginning (repeats are dropped by event id only for ids still in the file)`,
    );
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw damaged("is not JSON");
  }
  const state = json as { version?: unknown; cursor?: unknown; recentEventIds?: unknown };
  if (state?.version !== FILE_VERSION) throw damaged(`has version ${JSON.stringify(state?.version)}, not ${FILE_VERSION}`);
  if (typeof state.cursor !== "string") throw damaged("has no cursor string");
  if (!Array.isArray(state.recentEventIds) || !state.recentEventIds.every((id) => typeof id === "string")) throw damaged("has no list of event ids");
  return { cursor: state.cursor, recentEventIds: state.recentEventIds as string[] };
}

/** Replaces the state atomically (write temp, fsync, rename, fsync the directory). */
export async function writeCursorFile(path: string, state: ConsumerState): Promise<void> {
  const directory = dirname(path);
  const temp = join(directory, `.${basename(path)}.${process.pid}.tmp`);
  const body = `${JSON.stringify({ version: FILE_VERSION, cursor: state.cursor, recentEventIds: state.recentEventIds }, null, 2)}\n`;
  const file = await open(temp, "w", 0o600);
  try {
    await file.writeFile(body, "utf8");
    // Without the flush a power loss after the rename could leave an empty file under the real name.
    await file.sync();
  } finally {
    await file.close();
  }
  try {
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  // Make the rename itself durable. Not every platform can open a directory; the rename is still atomic there.
  try {
    const dir = await open(directory, "r");
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  } catch {
    // best effort
  }
}
