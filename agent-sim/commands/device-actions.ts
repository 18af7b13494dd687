/**
 * The commands that act on the whole Mac: DeviceLock, EraseDevice, RestartDevice and
 * ShutDownDevice. Each acknowledges first; what it does to the Mac happens after the report
 * has reached the server (HandlerOutcome.after), as on a real Mac, which could not answer
 * once it has restarted or wiped itself.
 */
import type { CommandPayload } from '../../protocol/command';
import type { CommandContext, HandlerOutcome } from '../state';
import * as errors from './errors';
import { osAtLeast, pinRequiredForErase, pinRequiredForLock } from './facts';
import { acknowledged, formatError } from './outcome';

/** "The six-character PIN for Find My" (schema); MDM consoles ask for six digits. */
const PIN = /^[0-9]{6}$/;

/**
 * Whether and how a PIN is wrong for this command on this Mac. A Mac that needs a PIN and
 * gets none (or a malformed one) cannot carry the command out; what a real Mac answers then
 * is not documented, so we answer CommandFormatError saying why.
 */
function pinProblem(pin: unknown, required: boolean, requestType: string): HandlerOutcome | undefined {
  if (!required) return undefined;
  if (pin === undefined) return formatError(errors.malformedRequest(`${requestType} on this Mac needs a six-digit PIN`));
  if (typeof pin !== 'string' || !PIN.test(pin)) return formatError(errors.malformedRequest(`${requestType} PIN must be six digits`));
  return undefined;
}

/**
 * Locks the Mac with its Find My PIN (see facts.pinRequiredForLock). Message (10.14+) and
 * PhoneNumber (11.5+) would show on the lock screen; the simulation keeps only the PIN, in
 * MacState.lockedWithPin ('' when the Mac was locked without one). A locked Mac restarts
 * into its lock screen and is silent until someone types the PIN; the Mac's state machine
 * models that from lockedWithPin.
 */
export function deviceLock(command: CommandPayload, ctx: CommandContext): HandlerOutcome {
  const required = pinRequiredForLock(ctx.mac.identity);
  const problem = pinProblem(command.PIN, required, 'DeviceLock');
  if (problem) return problem;
  ctx.mac.lockedWithPin = required && typeof command.PIN === 'string' ? command.PIN : '';
  return acknowledged();
}

/**
 * Acknowledges, then erases (after: 'erase'): the Mac wipes and leaves management. The PIN
 * locks the firmware of Intel Macs without T2 and is ignored elsewhere (facts.pinRequiredForErase).
 * ObliterationBehavior (macOS 12+) only matters when Erase All Content and Settings cannot
 * run; a simulated T2 or Apple silicon Mac always passes its preflight (DeviceInformation's
 * EACSPreflight answers 'success'), so every behaviour acknowledges.
 */
export function eraseDevice(command: CommandPayload, ctx: CommandContext): HandlerOutcome {
  const problem = pinProblem(command.PIN, pinRequiredForErase(ctx.mac.identity), 'EraseDevice');
  if (problem) return problem;
  return acknowledged(undefined, ['erase']);
}

/**
 * NotifyUser (macOS 11.4+, schema): "notifies the user to restart the device at their
 * convenience. No forced restart occurs unless the device is at loginwindow with no
 * logged-in users." A simulated user never clicks, so with someone logged in nothing restarts.
 */
export function restartDevice(command: CommandPayload, ctx: CommandContext): HandlerOutcome {
  const notifyOnly = command.NotifyUser === true && osAtLeast(ctx.mac, '11.4') && ctx.mac.users.some((u) => u.IsLoggedIn);
  return notifyOnly ? acknowledged() : acknowledged(undefined, ['restart']);
}

export function shutDownDevice(_command: CommandPayload, _ctx: CommandContext): HandlerOutcome {
  return acknowledged(undefined, ['shutdown']);
}
