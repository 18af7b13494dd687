/**
 * The simulated Mac's command handlers: `handleCommand` takes the command the server sent
 * (the `{CommandUUID, Command: {RequestType, ...}}` envelope) and says what the Mac answers.
 *
 * Order of checks, as a Mac's MDM client does them:
 * 1. A RequestType this Mac does not handle (another platform's, one its macOS version
 *    predates, one mdmsim does not simulate, or an unknown one) → Error 12021 in
 *    MCMDMErrorDomain, "“X” is not a valid request type." (errors.ts for the sources).
 * 2. A malformed command (Apple's schema for this Mac's macOS reports a missing required
 *    key, a wrong type or a value out of range) → CommandFormatError. Keys this macOS version
 *    does not know are ignored, as a device ignores them, even when their value is bad.
 * 3. The handler.
 *
 * Handlers never throw for what the server sent: they answer Error or CommandFormatError.
 * An exception out of here is a bug in mdmsim.
 */
import type { Command, CommandPayload } from '../../protocol/command';
import { isPlistDict, type PlistDict } from '../../protocol/plist/types';
import { preloadSchemas, validateCommand, type ValidationContext, type ValidationIssue } from '../../protocol/schema';
import type { CommandContext, CommandHandler, HandlerOutcome } from '../state';
import { deviceInformation } from './device-information';
import { deviceLock, eraseDevice, restartDevice, shutDownDevice } from './device-actions';
import * as errors from './errors';
import { installEnterpriseApplication } from './install-enterprise-application';
import { availableOSUpdates, certificateList, installedApplicationList, securityInfo, userList } from './inventory';
import { failure, formatError } from './outcome';
import { installProfile, profileList, removeProfile } from './profiles';

export { hasEnrollmentProfile, isEnrollmentProfile, MDM_PAYLOAD_TYPE } from './profiles';
export { knownQueries } from './device-information';

const HANDLERS = {
  InstallEnterpriseApplication: installEnterpriseApplication,
  DeviceInformation: deviceInformation,
  ProfileList: profileList,
  InstallProfile: installProfile,
  RemoveProfile: removeProfile,
  InstalledApplicationList: installedApplicationList,
  CertificateList: certificateList,
  SecurityInfo: securityInfo,
  AvailableOSUpdates: availableOSUpdates,
  UserList: userList,
  DeviceLock: deviceLock,
  EraseDevice: eraseDevice,
  RestartDevice: restartDevice,
  ShutDownDevice: shutDownDevice,
} satisfies Record<string, CommandHandler>;

export type SupportedRequestType = keyof typeof HANDLERS;

/**
 * The RequestTypes a simulated Mac handles. Each also needs the Mac's macOS version to
 * have it (Apple's schema: RestartDevice and ShutDownDevice from 10.13, UserList from 10.13,
 * InstallEnterpriseApplication from 10.13.6, AvailableOSUpdates from 10.11, the rest 10.7).
 */
export const SUPPORTED_REQUEST_TYPES: readonly SupportedRequestType[] = Object.freeze(Object.keys(HANDLERS) as SupportedRequestType[]);

/**
 * Compiles the schemas of the supported commands now rather than on a Mac's first command
 * (DeviceInformation's alone takes over 100 ms): call once before a fleet starts.
 */
export function preloadCommandSchemas(): void {
  preloadSchemas(SUPPORTED_REQUEST_TYPES);
}

function isSupported(requestType: string): requestType is SupportedRequestType {
  return Object.hasOwn(HANDLERS, requestType);
}

/**
 * Keys a macOS version does not have are ignored by the device, so an error under one of
 * them (say ManagementFlags 2 sent to macOS 10.15, which has no ManagementFlags) is no
 * format error. The strict pass names those keys; it only runs when there are errors.
 */
function errorsOnKnownKeys(command: PlistDict, errs: ValidationIssue[], ctx: ValidationContext): ValidationIssue[] {
  const unknown = validateCommand(command, { ...ctx, strict: true })
    .errors.filter((e) => e.code === 'not-applicable')
    .map((e) => e.path);
  if (unknown.length === 0) return errs;
  const under = (path: string, key: string) => path === key || path.startsWith(`${key}.`) || path.startsWith(`${key}[`);
  return errs.filter((e) => !unknown.some((key) => under(e.path, key)));
}

/** Whether macOS answers without this required key (see device-information.ts). */
function toleratedMissing(requestType: string, issue: ValidationIssue): boolean {
  return requestType === 'DeviceInformation' && issue.code === 'missing' && issue.path === 'Command.Queries';
}

/**
 * Answers one command. Takes the envelope `{CommandUUID, Command: {RequestType, ...}}` as the
 * server sends it; the bare `{RequestType, ...}` payload is accepted too (the Mac's state
 * machine has already read the envelope).
 */
export async function handleCommand(command: Command | CommandPayload, ctx: CommandContext): Promise<HandlerOutcome> {
  const given = command as unknown as PlistDict;
  let envelope: PlistDict;
  if (isPlistDict(given) && isPlistDict(given.Command)) envelope = given;
  else if (isPlistDict(given) && typeof given.RequestType === 'string') envelope = { CommandUUID: 'payload-only', Command: given };
  else return formatError(errors.malformedRequest('the command has no Command dictionary with a RequestType string'));
  const body = envelope.Command as PlistDict;
  const requestType = body.RequestType;
  if (typeof requestType !== 'string') {
    return formatError(errors.malformedRequest('the command has no RequestType string'));
  }
  if (!isSupported(requestType)) return failure(errors.invalidRequestType(requestType));

  const validation: ValidationContext = { platform: 'macOS', osVersion: ctx.mac.identity.osVersion };
  const result = validateCommand(envelope, validation);
  // This macOS version predates the command (the schema's macOS `introduced`).
  if (result.errors.some((e) => e.code === 'unsupported' || e.code === 'unknown-message')) {
    return failure(errors.invalidRequestType(requestType));
  }
  if (!result.ok) {
    const errs = errorsOnKnownKeys(envelope, result.errors, validation).filter((e) => !toleratedMissing(requestType, e));
    if (errs.length > 0) return formatError(errors.malformedRequest(errs.map((e) => e.message).join('; ')));
  }
  return HANDLERS[requestType](body as CommandPayload, ctx);
}
