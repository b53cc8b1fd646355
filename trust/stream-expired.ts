/**
 * The reason a stream (a watch, a screening, ...) ends with when the token it
 * was opened with expires. Not TOKEN_EXPIRED, which refuses a token at the
 * door: a watcher that reads this reopens at once with a fresh token and resumes,
 * rather than count an authentication failure. Shared by the servers'
 * authenticator and the watchers (the gateway's change follower, the
 * manufacturer's consumer).
 */
export const STREAM_EXPIRED = "STREAM_EXPIRED";
