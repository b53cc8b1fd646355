export { Code, ImeifedError, invalidArgument } from "./imeifed-error.js";
export type { ImeifedErrorOptions } from "./imeifed-error.js";
