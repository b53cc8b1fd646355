/**
 * The gateway config's `networks` section: one entry per front a mobile
 * network may ask through (each optional; absent: that front is not served).
 */
import { z } from "zod";
import { n5gEirConfigSchema } from "./n5g-eir/n5g-eir-config.js";
import { s13ConfigSchema } from "./s13/s13-config.js";

export const networksConfigSchema = z
  .object({
    /** 3GPP TS 29.511 N5g-eir over HTTP/2 (networks/n5g-eir/). */
    n5gEir: n5gEirConfigSchema.optional(),
    /** 3GPP TS 29.272 S13 ME-Identity-Check over Diameter (networks/s13/). */
    s13: s13ConfigSchema.optional(),
  })
  .strict()
  .default({});

/** The validated `networks` section. */
export type NetworksConfig = z.output<typeof networksConfigSchema>;
