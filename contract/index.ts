export { checkText, isPlainText, isRefusedAsciiByte, textRefusal } from "./text-rule.js";
export { CURSOR_LIMIT, fullNameOf, textLimitEntry, textLimitOf } from "./text-limits.js";
export type { MapTextLimit } from "./text-limits.js";
export { markTextChecked, requestTextCheck } from "./request-text.js";
export type { RequestTextCheck } from "./request-text.js";
