/**
 * The stolen feed's cursor: every registry's position (its epoch and the last
 * sequence the feed has handled), in one opaque string the manufacturer hands
 * back when it reconnects. The cursor is the whole of the feed's state, so any
 * gateway process can resume any manufacturer's feed after a restart.
 *
 * Wire form (version 1): base64url (no padding) of the JSON
 *   { "v": 1, "registries": { "GB": { "epoch": "e-3f…", "seq": "123" }, … } }
 * `seq` is a decimal string because registry sequences are uint64; countries
 * are sorted so equal positions always encode to equal cursors.
 */
import { z } from "zod";
import { CURSOR_LIMIT } from "../../contract/index.js";
import { invalidArgument, quote, type Reason } from "../../errors/index.js";

/** The current cursor format; a cursor of another version is refused, never guessed at. */
export const FEED_CURSOR_VERSION = 1;

/** Cursors larger than this are refused before parsing: the contract's own limit for the field. */
export const MAX_CURSOR_LENGTH = CURSOR_LIMIT;

/** One registry's position: the epoch its sequences belong to and the last sequence handled (0 = none). */
export interface RegistryPosition {
  /** The registry's epoch (its database identity); empty when the feed has not yet heard from it. */
  readonly epoch: string;
  readonly seq: bigint;
}

/** Every registry's position, keyed by ISO 3166-1 alpha-2 country code. */
export type FeedCursor = ReadonlyMap<string, RegistryPosition>;

const positionSchema = z
  .object({
    epoch: z.string().max(128),
    // Accept a JSON number as well as the decimal string this gateway writes (hand-made cursors in tests and docs).
    seq: z.union([z.string().regex(/^\d{1,20}$/), z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER)]),
  })
  .strict();

const cursorSchema = z
  .object({
    v: z.literal(FEED_CURSOR_VERSION),
    registries: z.record(z.string().regex(/^[A-Z]{2}$/, "a country is two capital letters (ISO 3166-1 alpha-2)"), positionSchema),
  })
  .strict();

const UINT64_MAX = (1n << 64n) - 1n;

/** Encodes positions into the opaque cursor string carried by every StolenEvent. */
export function encodeFeedCursor(cursor: FeedCursor): string {
  const registries: Record<string, { epoch: string; seq: string }> = {};
  for (const country of [...cursor.keys()].sort()) {
    const position = cursor.get(country)!;
    registries[country] = { epoch: position.epoch, seq: position.seq.toString() };
  }
  return Buffer.from(JSON.stringify({ v: FEED_CURSOR_VERSION, registries }), "utf8").toString("base64url");
}

/** A cursor's version as an error message shows it: a number as it is, anything else quoted (short, escaped). */
function versionText(version: unknown): string {
  return typeof version === "number" ? String(version) : quote(String(version));
}

/**
 * Decodes a cursor a manufacturer sent back. An empty string is the empty
 * cursor (start from the beginning); anything that is not a cursor this
 * gateway issued is INVALID_ARGUMENT naming the field `cursor`.
 */
export function decodeFeedCursor(text: string, field = "cursor"): FeedCursor {
  if (text === "") return new Map();
  const refuse = (reason: Reason, problem: string) => invalidArgument(field, reason, problem);
  const resend = "send the cursor of the last event you handled, unchanged, or an empty cursor to start from the beginning";
  if (text.length > MAX_CURSOR_LENGTH) {
    throw refuse("CURSOR_MALFORMED", `is ${text.length} characters, longer than any cursor the gateway issues (${MAX_CURSOR_LENGTH}); ${resend}`);
  }
  if (!/^[A-Za-z0-9_-]+$/.test(text)) throw refuse("CURSOR_MALFORMED", `is not base64url text; ${resend}`);
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(text, "base64url").toString("utf8"));
  } catch {
    throw refuse("CURSOR_MALFORMED", `does not decode to a cursor; ${resend}`);
  }
  if (typeof json === "object" && json !== null && "v" in json && (json as { v: unknown }).v !== FEED_CURSOR_VERSION) {
    throw refuse(
      "CURSOR_VERSION",
      `has version ${versionText((json as { v: unknown }).v)} but this gateway reads version ${FEED_CURSOR_VERSION}; reconnect with an empty cursor and drop repeats by event id`,
    );
  }
  const parsed = cursorSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length > 0 ? ` at ${issue.path.join(".")}` : "";
    throw refuse("CURSOR_MALFORMED", `is not a valid cursor (${issue.message}${where}); ${resend}`);
  }
  const cursor = new Map<string, RegistryPosition>();
  for (const [country, position] of Object.entries(parsed.data.registries)) {
    const seq = BigInt(position.seq);
    if (seq > UINT64_MAX) throw refuse("CURSOR_MALFORMED", `has a sequence for ${country} beyond uint64; ${resend}`);
    cursor.set(country, { epoch: position.epoch, seq });
  }
  return cursor;
}
