/**
 * The command envelope the server sends in answer to a connect (`application/x-apple-aspen-mdm`):
 * `{ CommandUUID, Command: { RequestType, ...payload } }`, and builders for the commands
 * mdmsim speaks, each taking Apple's own payload keys.
 */
import { randomUUID } from 'node:crypto';
import { buildPlistBuffer } from './plist';
import { isPlistDict, type PlistDict, type PlistValue } from './plist/types';
import { problem } from './problem';

export const COMMAND_CONTENT_TYPE = 'application/x-apple-aspen-mdm';

export interface CommandPayload {
  RequestType: string;
  [key: string]: PlistValue;
}

export interface Command<P extends CommandPayload = CommandPayload> {
  CommandUUID: string;
  Command: P;
}

/** Payload keys of the commands mdmsim builds, by RequestType, as Apple names them. */
export interface CommandPayloads {
  InstallEnterpriseApplication: {
    ManifestURL?: string;
    Manifest?: PlistDict;
    ManifestURLPinningCerts?: Buffer[];
    PinningRevocationCheckRequired?: boolean;
    InstallAsManaged?: boolean;
    ManagementFlags?: 1;
    Configuration?: PlistDict;
    ChangeManagementState?: 'Managed';
    iOSApp?: boolean;
  };
  DeviceInformation: { Queries: string[]; DeviceAttestationNonce?: Buffer };
  ProfileList: { ManagedOnly?: boolean };
  InstallProfile: { Payload: Buffer };
  RemoveProfile: { Identifier: string };
  InstalledApplicationList: { Identifiers?: string[]; ManagedAppsOnly?: boolean; Items?: string[] };
  CertificateList: { ManagedOnly?: boolean };
  SecurityInfo: Record<string, never>;
  AvailableOSUpdates: Record<string, never>;
  UserList: Record<string, never>;
  DeviceLock: { Message?: string; PhoneNumber?: string; PIN?: string };
  EraseDevice: {
    PIN?: string;
    ObliterationBehavior?: 'Default' | 'DoNotObliterate' | 'ObliterateWithWarning' | 'Always';
    PreserveDataPlan?: boolean;
    DisallowProximitySetup?: boolean;
  };
  RestartDevice: { NotifyUser?: boolean; RebuildKernelCache?: boolean; KextPaths?: string[] };
  ShutDownDevice: Record<string, never>;
}

export type KnownRequestType = keyof CommandPayloads;

export interface CommandOptions {
  /** Defaults to a fresh upper-case UUID, the form Apple's own tools use. */
  CommandUUID?: string;
}

/** Builds any command; optional keys left `undefined` are omitted. */
export function buildCommand(requestType: string, payload: Record<string, PlistValue | undefined> = {}, options: CommandOptions = {}): Command {
  const Command: CommandPayload = { RequestType: requestType };
  for (const [key, value] of Object.entries(payload)) {
    if (key === 'RequestType') continue;
    if (value !== undefined) Command[key] = value;
  }
  return { CommandUUID: options.CommandUUID ?? randomUUID().toUpperCase(), Command };
}

type Builder<K extends KnownRequestType> = {} extends CommandPayloads[K]
  ? (payload?: CommandPayloads[K], options?: CommandOptions) => Command<CommandPayloads[K] & { RequestType: K } & CommandPayload>
  : (payload: CommandPayloads[K], options?: CommandOptions) => Command<CommandPayloads[K] & { RequestType: K } & CommandPayload>;

function builder<K extends KnownRequestType>(requestType: K): Builder<K> {
  return ((payload?: CommandPayloads[K], options?: CommandOptions) =>
    buildCommand(requestType, (payload ?? {}) as Record<string, PlistValue | undefined>, options)) as Builder<K>;
}

/** `commands.DeviceLock({ PIN: '123456' })` and so on, one builder per RequestType. */
export const commands: { [K in KnownRequestType]: Builder<K> } = {
  InstallEnterpriseApplication: builder('InstallEnterpriseApplication'),
  DeviceInformation: builder('DeviceInformation'),
  ProfileList: builder('ProfileList'),
  InstallProfile: builder('InstallProfile'),
  RemoveProfile: builder('RemoveProfile'),
  InstalledApplicationList: builder('InstalledApplicationList'),
  CertificateList: builder('CertificateList'),
  SecurityInfo: builder('SecurityInfo'),
  AvailableOSUpdates: builder('AvailableOSUpdates'),
  UserList: builder('UserList'),
  DeviceLock: builder('DeviceLock'),
  EraseDevice: builder('EraseDevice'),
  RestartDevice: builder('RestartDevice'),
  ShutDownDevice: builder('ShutDownDevice'),
};

export function encodeCommand(command: Command): Buffer {
  return buildPlistBuffer(command as unknown as PlistDict);
}

const UUID_LIKE = /^[0-9A-Za-z][0-9A-Za-z._-]{0,127}$/;

/**
 * Reads a command a user handed in (a plist or JSON already parsed to a dict): either the
 * full envelope `{CommandUUID, Command: {RequestType, ...}}` or, as a shortcut, the bare
 * `{RequestType, ...}` (a CommandUUID is then generated).
 */
export function decodeCommand(value: unknown): Command {
  if (!isPlistDict(value as never)) {
    throw problem(400, 'not-a-dict', 'a command must be a dictionary', {
      expected: '{"CommandUUID": "...", "Command": {"RequestType": "..."}} or {"RequestType": "..."}',
    });
  }
  const dict = value as PlistDict;
  let uuid = dict.CommandUUID;
  let body: PlistValue | undefined = dict.Command;
  if (body === undefined && typeof dict.RequestType === 'string') {
    const { CommandUUID: _ignored, ...rest } = dict;
    body = rest;
  }
  if (!isPlistDict(body)) {
    throw problem(400, 'missing-command', 'the command has no Command dictionary', {
      field: 'Command',
      expected: 'a dictionary with a RequestType, e.g. {"Command": {"RequestType": "DeviceInformation", "Queries": ["OSVersion"]}}',
    });
  }
  if (typeof body.RequestType !== 'string' || body.RequestType === '') {
    throw problem(400, 'missing-request-type', 'the command has no RequestType', {
      field: 'Command.RequestType',
      expected: 'a string such as "DeviceInformation"',
    });
  }
  if (uuid === undefined) uuid = randomUUID().toUpperCase();
  if (typeof uuid !== 'string' || !UUID_LIKE.test(uuid)) {
    throw problem(400, 'bad-command-uuid', `CommandUUID ${JSON.stringify(uuid)} is not usable`, {
      field: 'CommandUUID',
      expected: 'a string of 1-128 letters, digits, dot, dash or underscore (a UUID is usual)',
    });
  }
  return { CommandUUID: uuid, Command: body as CommandPayload };
}
