/** The shipment-manifest reader shared by `imeifed screen` and the console (see README.md). */
export { checkManifest, readManifest, manifestItemsOf } from "./manifest-reader.js";
export type { ManifestCheck, ManifestDevice, ManifestFormat, ManifestReadProgress, ReadManifestOptions } from "./manifest-reader.js";
export { manifestBytes, manifestFile, manifestStream } from "./manifest-source.js";
export type { ManifestSource } from "./manifest-source.js";
export { ManifestRefusal } from "./manifest-refusal.js";
export { COLUMN_NAMES, headerKey } from "./manifest-columns.js";
export type { ManifestColumn } from "./manifest-columns.js";
