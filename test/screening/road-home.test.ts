import assert from "node:assert/strict";
import { timestampDate } from "@bufbuild/protobuf/wkt";
import { SightingKind } from "../../gen/imeifed/v1/registry_pb.js";
import { UnansweredPolicy, type FederationService } from "../../gen/imeifed/v1/federation_pb.js";
import { Code } from "../../errors/index.js";
import type { Client } from "../../rpc/index.js";
import type { RegistryTripwire } from "../../gateway/tripwire/registry-tripwire.js";
import { imeiOf, startScreeningFederation, watchForSighting, type ScreeningFederation } from "./support/screening-federation.js";
import { rejectsWith } from "../support/rejections.js";

const STOLEN_GB = "35693803400019";
const STOLEN_ES = "35693803500016";
const FOUND_GB = "35693803600014";

describe("the road home: tripwire sightings and found reports reach the owning agency", function () {
  this.timeout(30_000);
  let fed: ScreeningFederation;
  let tripwire: RegistryTripwire;

  before(async () => {
    fed = await startScreeningFederation({
      seed: {
        GB: [{ imeis: [imeiOf(STOLEN_GB)], caseReference: "MET-2025-0042" }, { imeis: [imeiOf(FOUND_GB)], caseReference: "MET-2025-0043" }],
        ES: [{ imeis: [imeiOf(STOLEN_ES)], caseReference: "PN-2025-7" }],
      },
    });
    tripwire = fed.gateway.context.tripwire as RegistryTripwire;
    assert.ok(tripwire, "the gateway runs the registry tripwire");
  });
  after(async () => {
    await fed?.cleanup();
  });

  it("a foreign police Lookup hit reaches the reporting agency's WatchSightings within a second", async () => {
    const watch = watchForSighting(fed.registries.get("GB")!, "police-gb", (s) => s.deviceKey === STOLEN_GB && s.kind === SightingKind.LOOKUP_HIT, 5_000);
    const police: Client<typeof FederationService> = fed.client("police-es");
    const answer = await police.lookup({ imei: imeiOf(STOLEN_GB), purpose: "ES case 2025/118" });
    const hitAt = Date.now();
    assert.equal(answer.findings[0]?.finding?.country, "GB");
    const sighting = await watch.sighting;
    assert.ok(sighting.receivedAt - hitAt < 1_000, `the sighting took ${sighting.receivedAt - hitAt} ms`);
    assert.equal(sighting.seenInCountry, "ES");
    assert.equal(sighting.partnerKind, "police");
    assert.equal(sighting.partnerId, "police-es");
    assert.equal(sighting.purpose, "ES case 2025/118");
    assert.equal(sighting.caseReference, "MET-2025-0042", "the reporting agency sees its own case reference");
    assert.ok(Math.abs(timestampDate(sighting.seenAt!).getTime() - hitAt) < 5_000);
  });

  it("a country's own lookup of its own record is not a sighting", async () => {
    await tripwire.flush();
    const before = { ...tripwire.stats };
    await fed.client("police-gb").lookup({ imei: imeiOf(STOLEN_GB), purpose: "GB case" });
    await tripwire.flush();
    assert.equal(tripwire.stats.queued, before.queued);
  });

  it("a customs screening hit reaches the reporting agency within a second, with the declaration as purpose", async () => {
    const watch = watchForSighting(fed.registries.get("ES")!, "police-es", (s) => s.deviceKey === STOLEN_ES && s.kind === SightingKind.SCREENING_HIT, 5_000);
    let hitAt = 0;
    async function* requests() {
      yield { message: { case: "shipment" as const, value: { declarationReference: "DEC-GB-77", destinationCountry: "HK", onUnanswered: UnansweredPolicy.HOLD } } };
      yield { message: { case: "items" as const, value: { items: [{ deviceId: imeiOf("35693803000086") }, { deviceId: imeiOf(STOLEN_ES), lineReference: "L2" }] } } };
    }
    for await (const response of fed.client("customs-gb").screen(requests())) {
      if (response.message.case === "finding") hitAt = Date.now();
    }
    assert.ok(hitAt > 0, "the screening found the device");
    const sighting = await watch.sighting;
    assert.ok(sighting.receivedAt - hitAt < 1_000, `the sighting took ${sighting.receivedAt - hitAt} ms`);
    assert.equal(sighting.seenInCountry, "GB");
    assert.equal(sighting.partnerKind, "customs");
    assert.equal(sighting.partnerId, "customs-gb");
    assert.equal(sighting.purpose, "DEC-GB-77");
  });

  it("a found report reaches the owning registry and its reporting agency", async () => {
    const watch = watchForSighting(fed.registries.get("GB")!, "police-gb", (s) => s.deviceKey === FOUND_GB && s.kind === SightingKind.FOUND, 5_000);
    const response = await fed.client("police-jp").reportFound({
      imei: imeiOf(FOUND_GB),
      purpose: "JP seizure 2025-55",
      found: { location: "Narita Airport cargo terminal 2", holdingAgency: "Chiba Prefectural Police", contact: "+81 43 201 0110, desk 4", note: "in a shipment of 40 phones" },
    });
    assert.deepEqual(response.notifiedCountries, ["GB"]);
    assert.deepEqual(response.unanswered, []);
    assert.equal(response.device?.deviceKey, FOUND_GB);
    const sighting = await watch.sighting;
    assert.equal(sighting.seenInCountry, "JP");
    assert.equal(sighting.partnerId, "police-jp");
    assert.equal(sighting.caseReference, "MET-2025-0043");
    assert.equal(sighting.found?.location, "Narita Airport cargo terminal 2");
    assert.equal(sighting.found?.holdingAgency, "Chiba Prefectural Police");
    assert.equal(sighting.found?.contact, "+81 43 201 0110, desk 4");
    assert.equal(sighting.purpose, "JP seizure 2025-55");
  });

  it("a found report of a device no registry lists notifies nobody", async () => {
    const response = await fed.client("customs-gb").reportFound({
      imei: imeiOf("35693803000094"),
      purpose: "DEC-GB-78",
      found: { location: "Felixstowe", contact: "border.force@example.gov.uk" },
    });
    assert.deepEqual(response.notifiedCountries, []);
    assert.deepEqual(response.unanswered, []);
  });

  it("refuses a found report without where or whom to call, or from a caller without devices:found", async () => {
    const police = fed.client("police-jp");
    await rejectsWith(police.reportFound({ imei: imeiOf(FOUND_GB), purpose: "p", found: { contact: "x" } }), Code.INVALID_ARGUMENT, /found\.location: is required/);
    await rejectsWith(police.reportFound({ imei: imeiOf(FOUND_GB), purpose: "p", found: { location: "x" } }), Code.INVALID_ARGUMENT, /found\.contact: is required/);
    await rejectsWith(police.reportFound({ imei: imeiOf(FOUND_GB), purpose: "p" }), Code.INVALID_ARGUMENT, /found: is required/);
    await rejectsWith(police.reportFound({ imei: "12345", purpose: "p", found: { location: "x", contact: "y" } }), Code.INVALID_ARGUMENT, /imei/);
    await rejectsWith(fed.client("oem-demo").reportFound({ imei: imeiOf(FOUND_GB), purpose: "p", found: { location: "x", contact: "y" } }), Code.PERMISSION_DENIED, /devices:found/);
  });
});
