/**
 * The purpose of a question about a device: the case or declaration reference
 * the caller acts under. Every server audits it, so it is required and bounded
 * the same everywhere (a gateway must not accept what its registries refuse).
 */
export const PURPOSE_LIMIT = 200;
