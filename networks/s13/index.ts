/** The Diameter S13 front (3GPP TS 29.272 ME-Identity-Check): a Diameter peer answering from the shared equipment check. */
export { startS13Front, type S13FrontOptions } from "./s13-front.js";
export { s13ConfigSchema, ON_UNKNOWN, type S13Config, type S13ConfigInput, type OnUnknown } from "./s13-config.js";
export type { RunningS13Server } from "./s13-server.js";
