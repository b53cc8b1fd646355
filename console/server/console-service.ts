/**
 * ConsoleService: what the page calls. Each method resolves who it acts as,
 * calls the gateway with that principal's minted token, and passes the answer
 * on; failures reach the page through connectErrorOf.
 */
import { randomUUID } from "node:crypto";
import { readFile, rm } from "node:fs/promises";
import { create } from "@bufbuild/protobuf";
import { Code as ConnectCode, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { ConsoleService, PrincipalSchema, ReportFormat, type Principal } from "../../gen/imeifed/console/v1/console_pb.js";
import { DeviceStatus } from "../../gen/imeifed/v1/device_pb.js";
import { ScreeningDecision, UnansweredPolicy } from "../../gen/imeifed/v1/federation_pb.js";
import { FiledReports } from "./filed-reports.js";
import { readAudit } from "./audit-reading.js";
import { OFFICER, purposeWithOfficer } from "./officer.js";
import type { ActingPrincipal, ActingPrincipals } from "./acting-principals.js";
import { connectErrorOf } from "./connect-error-of.js";
import { signedReport } from "./report-signature.js";
import { screenManifest, type FinishedScreening } from "./screening-run.js";

/** How long the page waits for a lookup. */
const LOOKUP_DEADLINE_MS = 10_000;
/** Screenings running at once; past it a new one is refused at once (each holds a manifest in memory). */
export const MAX_SCREENINGS = 2;
/** Sightings streams open at once (each holds a registry stream); past it a new one is refused at once. */
export const MAX_SIGHTING_STREAMS = 16;
/** Finished screenings whose reports are kept for download; the oldest goes first. */
export const KEPT_REPORTS = 20;

function principalMessage(p: ActingPrincipal): Principal {
  const { id, name, kind, country } = p.principal;
  return create(PrincipalSchema, { id, name, kind, country });
}

export interface ConsoleServiceOptions {
  principals: ActingPrincipals;
  /** A private directory for uploaded manifests and reports. */
  workDir: string;
  log: (line: string) => void;
}

export function consoleService(options: ConsoleServiceOptions): ServiceImpl<typeof ConsoleService> {
  const { principals, log } = options;
  const reports = new Map<string, FinishedScreening>();
  let running = 0;
  let watching = 0;
  const filed = new FiledReports();
  /** The principal's home registry, or why it has none. */
  const homeRegistryOf = (acting: ActingPrincipal) => {
    if (!acting.registry) throw new ConnectError(`${acting.principal.id} has no home registry configured on this console (homeRegistry in the config; police only)`, ConnectCode.FailedPrecondition);
    return acting.registry;
  };
  const keep = (screening: FinishedScreening) => {
    reports.set(screening.id, screening);
    while (reports.size > KEPT_REPORTS) {
      const oldest = reports.keys().next().value!;
      void rm(reports.get(oldest)!.dir, { recursive: true, force: true });
      reports.delete(oldest);
    }
  };
  const guard = async <T>(work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (error) {
      throw connectErrorOf(error, log);
    }
  };
  return {
    async getSession(_request, ctx) {
      return {
        officer: ctx.values.get(OFFICER) ?? "",
        defaultPrincipal: principalMessage(principals.default),
        choices: principals.pilot ? principals.all().map(principalMessage) : [],
        pilot: principals.pilot,
      };
    },

    async lookup(request, ctx) {
      return guard(async () => {
        const acting = principals.resolve(request.actAs);
        const answer = await acting.gateway.lookup({ imei: request.imei, purpose: purposeWithOfficer(request.purpose, ctx.values.get(OFFICER)), countries: [] }, { deadline: LOOKUP_DEADLINE_MS, signal: ctx.signal });
        return { answer };
      });
    },

    async getRegistryKeys(_request, ctx) {
      return guard(async () => ({ keys: await principals.default.gateway.getRegistryKeys({}, { deadline: LOOKUP_DEADLINE_MS, signal: ctx.signal }) }));
    },

    async *screen(request, ctx) {
      const acting = (() => {
        try {
          return principals.resolve(request.actAs);
        } catch (error) {
          throw connectErrorOf(error, log);
        }
      })();
      if (!request.shipment) throw new ConnectError("shipment: give the declaration reference, exporter and destination", ConnectCode.InvalidArgument);
      if (request.manifest.length === 0) throw new ConnectError("manifest: the file is empty; it needs a header row naming device_id and one row per device", ConnectCode.InvalidArgument);
      if (running >= MAX_SCREENINGS) throw new ConnectError(`the console is already screening ${running} manifests; try again when one has finished`, ConnectCode.ResourceExhausted);
      running++;
      try {
        const shipment = { ...request.shipment, onUnanswered: request.shipment.onUnanswered || UnansweredPolicy.HOLD };
        const run = screenManifest({
          manifest: request.manifest,
          fileName: request.fileName,
          shipment,
          principal: acting,
          workDir: options.workDir,
          id: randomUUID(),
          signal: ctx.signal,
          onFinished: keep,
        });
        try {
          yield* run;
        } catch (error) {
          throw connectErrorOf(error, log);
        }
      } finally {
        running--;
      }
    },

    async reportTheft(request, ctx) {
      return guard(async () => {
        const acting = principals.resolve(request.actAs);
        const registry = homeRegistryOf(acting);
        const answer = await registry.reportDevice(
          {
            imeis: request.imeis,
            status: request.status,
            reason: request.reason,
            caseReference: request.caseReference,
            ...(request.occurredAt ? { occurredAt: request.occurredAt } : {}),
            ...(request.crimeReference ? { verification: { crimeReference: request.crimeReference } } : {}),
          },
          { deadline: LOOKUP_DEADLINE_MS, signal: ctx.signal },
        );
        filed.add(acting.principal.id, {
          imeis: answer.devices.map((d) => d.device?.imei ?? ""),
          caseReference: request.caseReference,
          status: request.status || DeviceStatus.PROHIBITED,
          reason: request.reason,
          verified: request.crimeReference !== "",
        });
        return { answer };
      });
    },

    async listReports(request) {
      return guard(async () => ({ reports: filed.list(principals.resolve(request.actAs).principal.id) }));
    },

    async clearReport(request, ctx) {
      return guard(async () => {
        const acting = principals.resolve(request.actAs);
        const answer = await homeRegistryOf(acting).clearDevice(
          { imei: request.imei, caseReference: request.caseReference, reason: request.reason, note: request.note },
          { deadline: LOOKUP_DEADLINE_MS, signal: ctx.signal },
        );
        filed.cleared(acting.principal.id, request.imei, request.caseReference, request.reason);
        return { answer };
      });
    },

    async reportFound(request, ctx) {
      return guard(async () => {
        const acting = principals.resolve(request.actAs);
        const answer = await acting.gateway.reportFound(
          { imei: request.imei, purpose: purposeWithOfficer(request.purpose, ctx.values.get(OFFICER)), ...(request.found ? { found: request.found } : {}) },
          { deadline: LOOKUP_DEADLINE_MS, signal: ctx.signal },
        );
        return { answer };
      });
    },

    async *watchSightings(request, ctx) {
      let registry;
      try {
        registry = homeRegistryOf(principals.resolve(request.actAs));
      } catch (error) {
        throw connectErrorOf(error, log);
      }
      if (watching >= MAX_SIGHTING_STREAMS) throw new ConnectError(`${watching} sightings pages are open on this console already; close one`, ConnectCode.ResourceExhausted);
      watching++;
      try {
        for await (const response of registry.watchSightings({ afterSequence: 0n }, { signal: ctx.signal })) {
          if (response.sighting) yield { sighting: response.sighting };
        }
      } catch (error) {
        if (ctx.signal.aborted) return;
        throw connectErrorOf(error, log);
      } finally {
        watching--;
      }
    },

    async queryAudit(request) {
      return guard(async () => {
        const acting = principals.resolve(request.actAs);
        if (!acting.audit) throw new ConnectError(`${acting.principal.id} has no audit store configured on this console (audit in the config; registry administrators only)`, ConnectCode.FailedPrecondition);
        return readAudit(acting.audit, request);
      });
    },

    async getScreeningReport(request) {
      return guard(async () => {
        const screening = reports.get(request.reportId);
        if (!screening) throw new ConnectError("report_id: no such report on this console (reports of the last 20 screenings are kept); screen the manifest again", ConnectCode.NotFound);
        const format = request.format === ReportFormat.JSON ? "json" : "csv";
        const content = await readFile(format === "json" ? screening.jsonPath : screening.csvPath);
        const { principal } = screening.principal;
        const signed = await signedReport(
          content,
          { declaration: screening.summary.declarationReference, decision: ScreeningDecision[screening.summary.decision] ?? "UNSPECIFIED", format },
          principal.id,
          principal.privateJwk,
        );
        const safeRef = screening.summary.declarationReference.replace(/[^\w.-]/g, "_").slice(0, 64) || "screening";
        return { fileName: `screening-${safeRef}.${format}`, content: signed, mediaType: format === "json" ? "application/json" : "text/csv" };
      });
    },
  };
}
