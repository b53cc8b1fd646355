/** The reference consumer of imeifed's stolen feed, for manufacturers (see README.md here). */
export { consumeStolenFeed, ActionFailed } from "./stolen-feed-consumer.js";
export type { ConsumerNotice, StolenFeedConsumerOptions } from "./stolen-feed-consumer.js";
export { checkEventAttestation, parseEventId } from "./event-attestation-check.js";
export type { EventCheck } from "./event-attestation-check.js";
export { readCursorFile, writeCursorFile, EMPTY_STATE } from "./cursor-file.js";
export type { ConsumerState } from "./cursor-file.js";
export { RecentEventIds, DEFAULT_RECENT_EVENT_IDS } from "./recent-event-ids.js";
export { fileKeySource, gatewayKeySource, readRegistryKeysFile, registryKeySetFromJson, registryKeySetFromResponse } from "./registry-keys.js";
export type { RegistryKeySet, RegistryKeySource } from "./registry-keys.js";
