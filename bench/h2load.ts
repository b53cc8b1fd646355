/**
 * h2load (Debian's nghttp2-client) as a gRPC load generator: a grpc-js client
 * saturates long before a grpc-js server does, h2load does not. A unary call
 * is a POST of a body file holding one gRPC frame, with `content-type:
 * application/grpc` and `te: trailers`.
 *
 * h2load counts every HTTP 200 as a success, and a gRPC refusal is a
 * trailers-only 200: what it reports cannot tell an answer from a refusal, so
 * callers count those on the server side. Its per-request log (`--log-file`)
 * gives each request's latency, from which percentiles are taken.
 */
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";

export const H2LOAD = "/usr/bin/h2load";

/** Writes `message` as one uncompressed gRPC frame (flag, 4-byte length, bytes) into `path`. */
export function writeGrpcFrame(path: string, message: Uint8Array): void {
  const frame = Buffer.alloc(5 + message.length);
  frame.writeUInt32BE(message.length, 1);
  frame.set(message, 5);
  writeFileSync(path, frame);
}

export interface H2loadRun {
  /** `http://host:port/package.Service/Method`. */
  url: string;
  /** The body file (writeGrpcFrame): a gRPC unary call. Absent: a plain HTTP/2 GET (an N5g-eir check). */
  body?: string;
  /** More request headers (`name: value`). */
  headers?: string[];
  token: string;
  connections: number;
  /** Streams each connection keeps open (`-m`). */
  streams: number;
  /** How long to run, after `warmUpSec` (timing-based: `-D`); or, instead, `requests`. */
  durationSec?: number;
  /** How many requests to make (`-n`), when there is no `durationSec`. */
  requests?: number;
  warmUpSec?: number;
  /** Requests per second per connection (`--rps`); as fast as answers come when absent. */
  rps?: number;
  /** Where to write the per-request log (latencies). */
  logFile?: string;
}

export interface H2loadResult {
  /** Requests that completed (answered or refused: both are HTTP 200). */
  done: number;
  /** Response DATA bytes (answers carry DATA, trailers-only refusals none). */
  dataBytes: number;
  /** The whole of h2load's report, for a failure message. */
  output: string;
}

/** A running h2load: its pid (to read its CPU time) and its result. */
export interface RunningH2load {
  readonly pid: number;
  readonly done: Promise<H2loadResult>;
}

/** Starts h2load; `done` settles when it has finished. */
export function startH2load(run: H2loadRun): RunningH2load {
  const args = [
    "-c",
    String(run.connections),
    "-m",
    String(run.streams),
    ...(run.durationSec !== undefined ? ["-D", String(run.durationSec)] : ["-n", String(run.requests ?? 1)]),
    ...(run.warmUpSec ? ["--warm-up-time", String(run.warmUpSec)] : []),
    ...(run.rps ? ["--rps", String(run.rps)] : []),
    ...(run.logFile ? ["--log-file", run.logFile] : []),
    ...(run.body !== undefined ? ["-d", run.body, "-H", "content-type: application/grpc", "-H", "te: trailers"] : []),
    ...(run.headers ?? []).flatMap((h) => ["-H", h]),
    "-H",
    `authorization: Bearer ${run.token}`,
    run.url,
  ];
  let pid = 0;
  const done = new Promise<H2loadResult>((resolve, reject) => {
    pid = execFile(H2LOAD, args, { maxBuffer: 16 << 20 }, (error, stdout, stderr) => {
      const output = `${stdout}${stderr}`;
      if (error) return reject(new Error(`h2load failed: ${error.message}\n${output}`));
      const requests = /requests: (\d+) total, (\d+) started, (\d+) done/.exec(output);
      const traffic = /traffic: .*?, .*? headers .*?, .*? \((\d+)\) data/.exec(output);
      if (!requests || !traffic) return reject(new Error(`cannot read h2load's report:\n${output}`));
      resolve({ done: Number(requests[3]), dataBytes: Number(traffic[1]), output });
    }).pid ?? 0;
  });
  return { pid, done };
}

/** Runs h2load to completion. */
export function runH2load(run: H2loadRun): Promise<H2loadResult> {
  return startH2load(run).done;
}

/** The HTTP statuses of the requests in an h2load log file, counted. */
export function loggedStatuses(logFile: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of readFileSync(logFile, "utf8").split("\n")) {
    const status = line.split("\t")[1];
    if (status !== undefined) counts.set(status, (counts.get(status) ?? 0) + 1);
  }
  return counts;
}

/** The latencies (ms) of the completed requests in an h2load log file. */
export function loggedLatenciesMs(logFile: string): number[] {
  const latencies: number[] = [];
  for (const line of readFileSync(logFile, "utf8").split("\n")) {
    const [, status, micros] = line.split("\t");
    if (status === "200" && micros !== undefined) latencies.push(Number(micros) / 1_000);
  }
  return latencies;
}
