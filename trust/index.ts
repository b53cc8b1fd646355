/**
 * Who may call: principals, the trust store, token verification and minting,
 * quotas and TLS. (Attestations, the sharing policy and the audit log are
 * imported from their own modules: ./attestation.js, ./sharing-policy.js,
 * ./audit/index.js.)
 */
export { CALLER, PRINCIPAL_KINDS, SCOPES, requesterOf } from "./principal.js";
export type { Actor, Caller, Principal, PrincipalKind, Scope } from "./principal.js";
export { TrustStore } from "./trust-store.js";
export type { TrustStoreOptions } from "./trust-store.js";
export { trustFileSchema } from "./trust-file-schema.js";
export type { TrustFile, TrustFileInput } from "./trust-file-schema.js";
export { createAuthenticator, bearerToken } from "./authenticator.js";
export type { AuthenticatorOptions, MethodAccess } from "./authenticator.js";
export { TokenVerifier, DELEGATING_KINDS, DEFAULT_MAX_TOKEN_LIFETIME_SEC } from "./token-verifier.js";
export type { TokenVerifierOptions } from "./token-verifier.js";
export { VerifiedTokenCache } from "./verified-token-cache.js";
export { TokenGate, bearerOf, requireAccess } from "./token-gate.js";
export type { TokenGateOptions } from "./token-gate.js";
export { AuthFailureLimiter } from "./auth-failure-limiter.js";
export { STREAM_EXPIRED } from "./stream-expired.js";
export { TokenMinter, mintToken } from "./token-minter.js";
export type { MintTokenOptions, TokenMinterOptions, TokenRequest } from "./token-minter.js";
export {
  SIGNING_ALGORITHMS,
  algorithmOf,
  generatePrincipalKeys,
  isSigningAlgorithm,
  keyFileNames,
  publicJwkOf,
  readJwks,
  readPrivateJwk,
  writeJwks,
  writePrincipalKeys,
  writePrivateJwk,
} from "./keys.js";
export type { Jwks, PrincipalKeys, SigningAlgorithm } from "./keys.js";
export { QuotaLimiter, createQuotaInterceptor, quotaConfigSchema } from "./quota.js";
export type { QuotaConfig, QuotaLimit, QuotaOptions } from "./quota.js";
export { channelCredentials, clientTlsSchema, serverCredentials, serverTlsSchema, tlsChannelOptions } from "./tls.js";
export type { ClientTlsConfig, ServerTlsConfig } from "./tls.js";
