/**
 * The small dictionary this peer needs: the base protocol's AVPs, commands
 * and result codes (RFC 6733) and the S13 application's (3GPP TS 29.272).
 * Each AVP names its type, so reading and writing its value goes through one
 * typed function (values.ts) and a code is never paired with the wrong type.
 */

/** 3GPP's IANA enterprise number: the Vendor-Id of every 3GPP AVP. */
export const VENDOR_3GPP = 10415;

export const APPLICATION = {
  /** Base protocol messages (CER/CEA, DWR/DWA, DPR/DPA) carry application id 0. */
  common: 0,
  /** S13/S13' (TS 29.272 §7.1.8 and TS 29.230): ME-Identity-Check between MME/SGSN and EIR. */
  s13: 16_777_252,
} as const;

export const COMMAND = {
  capabilitiesExchange: 257,
  deviceWatchdog: 280,
  disconnectPeer: 282,
  /** ME-Identity-Check (TS 29.272 §7.2.19/20). */
  meIdentityCheck: 324,
} as const;

export const RESULT_CODE = {
  SUCCESS: 2001,
  COMMAND_UNSUPPORTED: 3001,
  UNABLE_TO_DELIVER: 3002,
  TOO_BUSY: 3004,
  APPLICATION_UNSUPPORTED: 3007,
  INVALID_HDR_BITS: 3008,
  INVALID_AVP_BITS: 3009,
  UNKNOWN_PEER: 3010,
  AVP_UNSUPPORTED: 5001,
  INVALID_AVP_VALUE: 5004,
  MISSING_AVP: 5005,
  NO_COMMON_APPLICATION: 5010,
  UNSUPPORTED_VERSION: 5011,
  UNABLE_TO_COMPLY: 5012,
  AUTHORIZATION_REJECTED: 5003,
  INVALID_AVP_LENGTH: 5014,
  INVALID_MESSAGE_LENGTH: 5015,
} as const;

/** Experimental-Result-Code values of TS 29.272 §7.4 (with Vendor-Id 10415). */
export const EXPERIMENTAL_RESULT_CODE = {
  /** DIAMETER_ERROR_EQUIPMENT_UNKNOWN (TS 29.272 §7.4.3): the EIR does not know the equipment. */
  EQUIPMENT_UNKNOWN: 5422,
} as const;

/** Equipment-Status (TS 29.272 §7.3.51). */
export const EQUIPMENT_STATUS = { WHITELISTED: 0, BLACKLISTED: 1, GREYLISTED: 2 } as const;
export type EquipmentStatusName = keyof typeof EQUIPMENT_STATUS;

/** Disconnect-Cause (RFC 6733 §5.4.3). */
export const DISCONNECT_CAUSE = { REBOOTING: 0, BUSY: 1, DO_NOT_WANT_TO_TALK_TO_YOU: 2 } as const;

/** Auth-Session-State (RFC 6733 §8.11): S13 is stateless, so NO_STATE_MAINTAINED. */
export const AUTH_SESSION_STATE = { STATE_MAINTAINED: 0, NO_STATE_MAINTAINED: 1 } as const;

/** The value types this dictionary uses (RFC 6733 §4.2, §4.3); Enumerated is an Integer32. */
export type AvpType = "Unsigned32" | "Enumerated" | "OctetString" | "UTF8String" | "DiameterIdentity" | "Address" | "Grouped";

export interface AvpDefinition<T extends AvpType = AvpType> {
  readonly name: string;
  readonly code: number;
  /** 0 for an IETF AVP. */
  readonly vendorId: number;
  readonly type: T;
  /** Whether this peer sets the M bit when it sends the AVP. */
  readonly mandatory: boolean;
}

function avp<T extends AvpType>(name: string, code: number, type: T, vendorId = 0, mandatory = true): AvpDefinition<T> {
  return { name, code, vendorId, type, mandatory };
}

export const AVP = {
  UserName: avp("User-Name", 1, "UTF8String"),
  HostIpAddress: avp("Host-IP-Address", 257, "Address"),
  AuthApplicationId: avp("Auth-Application-Id", 258, "Unsigned32"),
  AcctApplicationId: avp("Acct-Application-Id", 259, "Unsigned32"),
  VendorSpecificApplicationId: avp("Vendor-Specific-Application-Id", 260, "Grouped"),
  SessionId: avp("Session-Id", 263, "UTF8String"),
  OriginHost: avp("Origin-Host", 264, "DiameterIdentity"),
  SupportedVendorId: avp("Supported-Vendor-Id", 265, "Unsigned32"),
  VendorId: avp("Vendor-Id", 266, "Unsigned32"),
  FirmwareRevision: avp("Firmware-Revision", 267, "Unsigned32", 0, false),
  ResultCode: avp("Result-Code", 268, "Unsigned32"),
  ProductName: avp("Product-Name", 269, "UTF8String", 0, false),
  DisconnectCause: avp("Disconnect-Cause", 273, "Enumerated"),
  AuthSessionState: avp("Auth-Session-State", 277, "Enumerated"),
  OriginStateId: avp("Origin-State-Id", 278, "Unsigned32"),
  FailedAvp: avp("Failed-AVP", 279, "Grouped"),
  ErrorMessage: avp("Error-Message", 281, "UTF8String", 0, false),
  DestinationRealm: avp("Destination-Realm", 283, "DiameterIdentity"),
  DestinationHost: avp("Destination-Host", 293, "DiameterIdentity"),
  OriginRealm: avp("Origin-Realm", 296, "DiameterIdentity"),
  ExperimentalResult: avp("Experimental-Result", 297, "Grouped"),
  ExperimentalResultCode: avp("Experimental-Result-Code", 298, "Unsigned32"),
  InbandSecurityId: avp("Inband-Security-Id", 299, "Unsigned32"),
  TerminalInformation: avp("Terminal-Information", 1401, "Grouped", VENDOR_3GPP),
  Imei: avp("IMEI", 1402, "UTF8String", VENDOR_3GPP),
  SoftwareVersion: avp("Software-Version", 1403, "UTF8String", VENDOR_3GPP),
  EquipmentStatus: avp("Equipment-Status", 1445, "Enumerated", VENDOR_3GPP),
} as const;
