/**
 * Check-in protocol messages (PUT to the CheckInURL, `application/x-apple-aspen-mdm-checkin`),
 * typed with Apple's own key names. Which keys are required on which OS is the schema
 * validator's job (protocol/schema); these types describe the shapes once a message passed.
 */
import { isPlistDict, type PlistDict } from './plist/types';
import { problem } from './problem';

export const CHECKIN_CONTENT_TYPE = 'application/x-apple-aspen-mdm-checkin';

export const CHECKIN_MESSAGE_TYPES = [
  'Authenticate',
  'TokenUpdate',
  'CheckOut',
  'UserAuthenticate',
  'SetBootstrapToken',
  'GetBootstrapToken',
  'DeclarativeManagement',
  'GetToken',
] as const;

export type CheckinMessageType = (typeof CHECKIN_MESSAGE_TYPES)[number];

/** Keys that say which enrollment (and channel) a message comes from. */
export interface EnrollmentKeys {
  UDID?: string;
  EnrollmentID?: string;
  EnrollmentUserID?: string;
  UserID?: string;
  UserShortName?: string;
  UserLongName?: string;
}

export interface Authenticate extends EnrollmentKeys {
  MessageType: 'Authenticate';
  Topic: string;
  DeviceName?: string;
  Model?: string;
  ModelName?: string;
  OSVersion?: string;
  BuildVersion?: string;
  ProductName?: string;
  SerialNumber?: string;
  IMEI?: string;
  MEID?: string;
}

export interface TokenUpdate extends EnrollmentKeys {
  MessageType: 'TokenUpdate';
  Topic: string;
  Token: Buffer;
  PushMagic: string;
  UnlockToken?: Buffer;
  AwaitingConfiguration?: boolean;
  NotOnConsole?: boolean;
}

export interface CheckOut extends EnrollmentKeys {
  MessageType: 'CheckOut';
  Topic: string;
}

export interface UserAuthenticate extends EnrollmentKeys {
  MessageType: 'UserAuthenticate';
  DigestResponse?: string;
}

export interface SetBootstrapToken extends EnrollmentKeys {
  MessageType: 'SetBootstrapToken';
  BootstrapToken?: Buffer;
  AwaitingConfiguration?: boolean;
}

export interface GetBootstrapToken extends EnrollmentKeys {
  MessageType: 'GetBootstrapToken';
  AwaitingConfiguration?: boolean;
}

export interface DeclarativeManagement extends EnrollmentKeys {
  MessageType: 'DeclarativeManagement';
  Endpoint: string;
  Data?: Buffer;
}

export interface GetToken extends EnrollmentKeys {
  MessageType: 'GetToken';
  TokenServiceType: string;
  TokenParameters?: PlistDict;
}

export type CheckinMessage =
  | Authenticate
  | TokenUpdate
  | CheckOut
  | UserAuthenticate
  | SetBootstrapToken
  | GetBootstrapToken
  | DeclarativeManagement
  | GetToken;

/** The GetBootstrapToken response body. */
export interface BootstrapTokenResponse {
  BootstrapToken?: Buffer;
}

export function isCheckinMessageType(v: unknown): v is CheckinMessageType {
  return typeof v === 'string' && (CHECKIN_MESSAGE_TYPES as readonly string[]).includes(v);
}

/**
 * Reads the MessageType and narrows the dict to its message type. Key-level checks
 * (required keys, types, per-OS rules) belong to the schema validator and run first.
 */
export function decodeCheckin(value: unknown): CheckinMessage {
  if (!isPlistDict(value as never)) {
    throw problem(400, 'not-a-dict', 'a check-in message must be a plist whose root is a <dict>', {
      expected: '<dict> with a MessageType key',
    });
  }
  const dict = value as PlistDict;
  const type = dict.MessageType;
  if (type === undefined) {
    throw problem(400, 'missing-message-type', 'the check-in message has no MessageType key', {
      field: 'MessageType',
      expected: CHECKIN_MESSAGE_TYPES.join(' | '),
    });
  }
  if (!isCheckinMessageType(type)) {
    throw problem(400, 'unknown-message-type', `unknown check-in MessageType ${JSON.stringify(type)}`, {
      field: 'MessageType',
      expected: CHECKIN_MESSAGE_TYPES.join(' | '),
      hint: 'command results go to the ServerURL (/mdm/connect) with Content-Type application/x-apple-aspen-mdm',
    });
  }
  return dict as unknown as CheckinMessage;
}

/** True when the message comes from a user channel (macOS per-user connection). */
export function isUserChannel(m: EnrollmentKeys): boolean {
  return m.UserID !== undefined || m.EnrollmentUserID !== undefined || m.UserShortName !== undefined;
}

/** The device-channel enrollment identifier: the UDID, or EnrollmentID for User Enrollment. */
export function deviceChannelId(m: EnrollmentKeys): string | undefined {
  return m.UDID ?? m.EnrollmentID;
}
