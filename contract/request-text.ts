/**
 * Applies the text rule (text-rule.ts) to every string of a request message,
 * with each field's limit (text-limits.ts), where the request enters: rpc/
 * runs it on each request and each stream message as it is decoded, before
 * any handler sees it. A refusal is INVALID_ARGUMENT naming the field's path
 * in the message (`found.contact`, `sightings[2].purpose`, `batch.imeis[7]`,
 * `items.items[41].line_reference`).
 *
 * The walk of each message type is built once from its descriptor: a hot
 * request (a 10,000-IMEI CheckDevices) costs one test per string, and a
 * path is spelled out only for a refusal.
 */
import { ScalarType, type DescField, type DescMessage } from "@bufbuild/protobuf";
import { ImeifedError, quote } from "../errors/index.js";
import { fullNameOf, textLimitEntry, textLimitOf } from "./text-limits.js";
import { isPlainText, textRefusal } from "./text-rule.js";

/** Messages a hand-written decoder found to obey the rule as it read their bytes (see `markTextChecked`). */
const textChecked = new WeakSet<object>();

/**
 * Marks a message a hand-written decoder has found, as it read its bytes, to
 * hold only text the rule accepts (every string within its field's limit and
 * made of printable ASCII, say): the walk does not look inside it. A decoder
 * marks only what it has proved clean, and leaves anything else unmarked for
 * the walk to judge (and to word the refusal), so the two never disagree.
 * Why: the hot requests (a screening's items read by position without an
 * object per item; a registry's 10,000 IMEIs) are cheaper to prove clean
 * byte by byte, inside the loop that reads them, than string by string after.
 */
export function markTextChecked<T extends object>(message: T): T {
  textChecked.add(message);
  return message;
}

/** Throws the INVALID_ARGUMENT of the first string of `message` that breaks the rule. */
export type RequestTextCheck = (message: unknown) => void;

type Value = unknown;
type Step = (value: Value) => void;
type Message = Record<string, Value>;

const built = new WeakMap<DescMessage, RequestTextCheck | null>();

/** An error from inside a nested message, its field path prefixed with where that message stands. */
function within(path: string, error: unknown): unknown {
  return error instanceof ImeifedError && error.field ? error.withField(`${path}.${error.field}`) : error;
}

function stringStep(path: string, limit: number): Step {
  return (value) => {
    if (typeof value === "string" && !isPlainText(value, limit)) throw textRefusal(path, value, limit);
  };
}

function stringListStep(path: string, limit: number): Step {
  return (value) => {
    const list = value as readonly string[];
    for (let i = 0; i < list.length; i++) {
      const item = list[i]!;
      if (!isPlainText(item, limit)) throw textRefusal(`${path}[${i}]`, item, limit);
    }
  };
}

function messageStep(path: string, check: RequestTextCheck): Step {
  return (value) => {
    if (value === undefined || textChecked.has(value as object)) return;
    try {
      check(value);
    } catch (error) {
      throw within(path, error);
    }
  };
}

function messageListStep(path: string, check: RequestTextCheck): Step {
  return (value) => {
    const list = value as readonly Value[];
    for (let i = 0; i < list.length; i++) {
      try {
        check(list[i]);
      } catch (error) {
        throw within(`${path}[${i}]`, error);
      }
    }
  };
}

function mapStep(field: Extract<DescField, { fieldKind: "map" }>, path: string): Step | undefined {
  const entry = textLimitEntry(field);
  const keyLimit = field.mapKey === ScalarType.STRING ? (typeof entry === "object" ? entry.key : undefined) : Infinity;
  const valueIsText = field.mapKind === "scalar" && field.scalar === ScalarType.STRING;
  const valueLimit = valueIsText ? (typeof entry === "object" ? entry.value : undefined) : Infinity;
  if (keyLimit === undefined || valueLimit === undefined) throw new Error(`${fullNameOf(field)} (a map) has no key and value text limits in contract/text-limits.ts`);
  const valueCheck = field.mapKind === "message" ? checkOf(field.message) : undefined;
  if (keyLimit === Infinity && !valueIsText && !valueCheck) return undefined;
  return (value) => {
    for (const [key, item] of Object.entries(value as Message)) {
      if (keyLimit !== Infinity && !isPlainText(key, keyLimit)) throw textRefusal(`${path} (a key)`, key, keyLimit);
      const at = `${path}[${quote(key)}]`;
      if (valueIsText && !isPlainText(item as string, valueLimit)) throw textRefusal(at, item as string, valueLimit);
      if (valueCheck) messageStep(at, valueCheck)(item);
    }
  };
}

/** The step checking one field's value, or undefined when it can hold no string. */
function stepOf(field: DescField): Step | undefined {
  const path = field.name;
  switch (field.fieldKind) {
    case "scalar":
      return field.scalar === ScalarType.STRING ? stringStep(path, textLimitOf(field)) : undefined;
    case "message": {
      const check = checkOf(field.message);
      return check ? messageStep(path, check) : undefined;
    }
    case "list":
      if (field.listKind === "scalar") return field.scalar === ScalarType.STRING ? stringListStep(path, textLimitOf(field)) : undefined;
      if (field.listKind === "message") {
        const check = checkOf(field.message);
        return check ? messageListStep(path, check) : undefined;
      }
      return undefined;
    case "map":
      return mapStep(field, path);
    default:
      return undefined;
  }
}

/** The check of a message type, or undefined when it can hold no string. */
function checkOf(schema: DescMessage): RequestTextCheck | undefined {
  const known = built.get(schema);
  if (known !== undefined) return known ?? undefined;
  // A message type that contains itself: the inner occurrence looks the check up when it runs.
  let self: RequestTextCheck | undefined;
  built.set(schema, (message) => self?.(message));
  const steps: ((message: Message) => void)[] = [];
  for (const member of schema.members) {
    if (member.kind === "oneof") {
      const cases = new Map<string, Step>();
      for (const field of member.fields) {
        const step = stepOf(field);
        if (step) cases.set(field.localName, step);
      }
      if (cases.size === 0) continue;
      const name = member.localName;
      steps.push((message) => {
        const chosen = message[name] as { case?: string; value?: Value } | undefined;
        if (chosen?.case !== undefined) cases.get(chosen.case)?.(chosen.value);
      });
    } else {
      const step = stepOf(member);
      if (!step) continue;
      const name = member.localName;
      steps.push((message) => step(message[name]));
    }
  }
  self =
    steps.length === 0
      ? undefined
      : (message) => {
          for (let i = 0; i < steps.length; i++) steps[i]!(message as Message);
        };
  built.set(schema, self ?? null);
  return self;
}

/**
 * The text check of request messages of type `schema`. Throws (a programming
 * error, at start) when a string field of it has no limit in the table.
 */
export function requestTextCheck(schema: DescMessage): RequestTextCheck {
  const check = checkOf(schema);
  if (!check) return () => undefined;
  return (message) => {
    if (!textChecked.has(message as object)) check(message);
  };
}
