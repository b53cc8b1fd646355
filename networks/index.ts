/**
 * The fronts mobile networks ask through when a phone attaches, and the
 * front-agnostic equipment check they share (equipment-check.ts) with the
 * operator policies (operator-policy.ts).
 */
export { EquipmentCheck, equipmentIdentityOf } from "./equipment-check.js";
export type { EquipmentCheckEvent, EquipmentCheckOptions, EquipmentIdentity, EquipmentQuestion, EquipmentVerdict, ListingOf, NetworkFront, VerdictBasis } from "./equipment-check.js";
export { DEFAULT_OPERATOR_POLICY, EQUIPMENT_STATUSES, frontPolicySchema, policyFor } from "./operator-policy.js";
export type { EquipmentStatus, FrontPolicy, OperatorPolicy } from "./operator-policy.js";
export { networksConfigSchema } from "./networks-config.js";
export type { NetworksConfig } from "./networks-config.js";
