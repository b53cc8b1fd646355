/**
 * The last step of screening a chunk: the registries' answers read by
 * position, each device's one outcome, and the findings to send, in manifest
 * order. One outcome per item: when an item could carry several, the first
 * of MALFORMED, DUPLICATE, PROHIBITED, TRACKED, MODEL_MISMATCH, UNANSWERED,
 * CLEAR wins; a listed device's finding still names a make mismatch in its
 * detail.
 */
import { DeviceStatus } from "../../gen/imeifed/v1/device_pb.js";
import { ScreeningOutcome, type RegistryFinding, type Unanswered } from "../../gen/imeifed/v1/federation_pb.js";
import { deviceFromKey, type Device } from "../../device/index.js";
import { itemOf, type Chunk } from "./chunking.js";
import type { ClassifiedChunk } from "./chunk-classifier.js";
import { findingResponse, type ScreenResponseInit } from "./finding-response.js";
import { isOutage } from "./screening-tally.js";


/**
 * What the registries said about a chunk's devices, by position: their
 * findings and who did not answer. Read by position, so the gateway needs no
 * answer object per device (nearly every one has neither).
 */
export interface ChunkAnswers {
  findingsAt(i: number): readonly RegistryFinding[];
  unansweredAt(i: number): readonly Unanswered[];
}

/** Told about every PROHIBITED or TRACKED item (the tripwire). */
export type ScreeningHit = (device: Device, findings: readonly RegistryFinding[]) => void;

/** A chunk screened: its findings in manifest order, how many items got each outcome, and the registries that did not answer. */
export interface ChunkResult {
  readonly responses: ScreenResponseInit[];
  readonly outcomes: Map<ScreeningOutcome, number>;
  readonly unanswered: readonly Unanswered[];
  readonly items: number;
}

export type { ScreenResponseInit } from "./finding-response.js";

/** Shared by devices without findings or unanswered registries (read-only). */
const NO_ANSWERS: readonly never[] = Object.freeze([]);

function listedDetail(outcome: ScreeningOutcome, findings: readonly RegistryFinding[], mismatch: string | undefined): string {
  const status = outcome === ScreeningOutcome.PROHIBITED ? DeviceStatus.PROHIBITED : DeviceStatus.TRACKED;
  const countries = findings.filter((f) => f.finding?.status === status).map((f) => f.finding!.country + (f.stale ? " (stale)" : ""));
  const what = outcome === ScreeningOutcome.PROHIBITED ? "prohibited" : "tracked";
  return `${what} in ${countries.join(", ")}${mismatch ? `; also ${mismatch}` : ""}`;
}

/** PROHIBITED when some registry prohibits the device (prohibited wins), TRACKED when some tracks it, else undefined. */
function listedOutcome(findings: readonly RegistryFinding[]): ScreeningOutcome | undefined {
  let outcome: ScreeningOutcome | undefined;
  for (const f of findings) {
    if (f.finding?.status === DeviceStatus.PROHIBITED) return ScreeningOutcome.PROHIBITED;
    if (f.finding?.status === DeviceStatus.TRACKED) outcome = ScreeningOutcome.TRACKED;
  }
  return outcome;
}

/** The chunk's result from its classification and the registries' answers (undefined when it had no device to ask about). */
export function resolveChunk(chunk: Chunk, classified: ClassifiedChunk, answers: ChunkAnswers | undefined, onHit: ScreeningHit | undefined): ChunkResult {
  const { early, offsets, keys, devices, mismatches } = classified;
  const outcomes = new Map<ScreeningOutcome, number>();
  const count = (o: ScreeningOutcome) => outcomes.set(o, (outcomes.get(o) ?? 0) + 1);
  // CLEAR, nearly every item, is counted in a plain number: a Map update per item showed in the warm run's profile.
  let clear = 0;
  const unanswered: Unanswered[] = [];
  const seenCountries = new Set<string>();
  const results: { index: number; response: ScreenResponseInit }[] = [];
  for (const e of early) {
    count(e.outcome);
    results.push(e);
  }
  for (let j = 0; j < keys.length; j++) {
    const findings = answers ? answers.findingsAt(j) : NO_ANSWERS;
    const unansweredHere = answers ? answers.unansweredAt(j) : NO_ANSWERS;
    const mismatch = mismatches?.get(j);
    // Nearly every item: no finding, every registry answered, the make agrees. Nothing to build.
    if (findings.length === 0 && unansweredHere.length === 0 && mismatch === undefined) {
      clear++;
      continue;
    }
    for (const u of unansweredHere) {
      if (!seenCountries.has(u.country)) {
        seenCountries.add(u.country);
        unanswered.push(u);
      }
    }
    let outcome = listedOutcome(findings);
    if (outcome === undefined) {
      if (mismatch) outcome = ScreeningOutcome.MODEL_MISMATCH;
      else if (unansweredHere.length > 0 && unansweredHere.some(isOutage)) outcome = ScreeningOutcome.UNANSWERED;
      else outcome = ScreeningOutcome.CLEAR;
    }
    if (outcome === ScreeningOutcome.CLEAR) {
      clear++;
      continue;
    }
    count(outcome);
    const index = chunk.start + offsets[j]!;
    const item = itemOf(chunk, offsets[j]!);
    const device = devices?.[j] ?? deviceFromKey(keys[j]!);
    if (outcome === ScreeningOutcome.PROHIBITED || outcome === ScreeningOutcome.TRACKED) {
      onHit?.(device, findings);
      results.push({ index, response: findingResponse(outcome, index, item, listedDetail(outcome, findings, mismatch), device, findings) });
    } else if (outcome === ScreeningOutcome.MODEL_MISMATCH) {
      results.push({ index, response: findingResponse(outcome, index, item, mismatch!, device) });
    }
  }
  if (clear > 0) outcomes.set(ScreeningOutcome.CLEAR, (outcomes.get(ScreeningOutcome.CLEAR) ?? 0) + clear);
  results.sort((a, b) => a.index - b.index);
  return { responses: results.map((r) => r.response), outcomes, unanswered, items: chunk.length };
}
