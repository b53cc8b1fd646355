export { Code, ImeifedError, invalidArgument, permissionDenied, unauthenticated } from "./imeifed-error.js";
export type { ImeifedErrorOptions } from "./imeifed-error.js";
export { quote, QUOTE_LIMIT } from "./quote.js";
export { isReason, REASONS, type Reason } from "./reasons.js";
