/**
 * What check-ins and connects mean, in NanoMDM's terms: Authenticate creates the
 * enrollment disabled and clears its queue, TokenUpdate enables it and counts a tally,
 * CheckOut disables it; a connect stores the report and answers the next command.
 * Transport (HTTP, bodies, content types) stays in server/http; facts stay in storage.
 */
import {
  decodeCheckin,
  deviceChannelId,
  isUserChannel,
  type Authenticate,
  type BootstrapTokenResponse,
  type EnrollmentKeys,
} from '../../protocol/checkin';
import { encodeCommand, type Command } from '../../protocol/command';
import type { Clock } from '../../protocol/clock';
import { buildPlistBuffer } from '../../protocol/plist';
import type { PlistDict } from '../../protocol/plist/types';
import { platformFromAuthenticate, type Platform } from '../../protocol/platform';
import { problem, type Problem } from '../../protocol/problem';
import { decodeCommandResults, type CommandResults } from '../../protocol/result';
import {
  validateCheckin,
  validateCommand,
  validateCommandResponse,
  type ValidationContext,
  type ValidationIssue,
  type ValidationResult,
} from '../../protocol/schema';
import { DuplicateCommandError, type EnrollmentRecord, type Storage } from '../storage/types';
import type { VerifiedSigner } from '../auth/mdm-signature';
import type { EventLog } from './event-log';

export interface MdmResponse {
  status: number;
  body?: Buffer;
  contentType?: string;
}

const PLIST_CONTENT_TYPE = 'application/xml; charset=utf-8';
const EMPTY_OK: MdmResponse = { status: 200 };

export interface EnqueueResult {
  commandUUID: string;
  requestType: string;
  /** Enrollment ids the command was queued for. */
  queued: string[];
  /** Why it was not queued for the others. */
  rejected: Record<string, Problem>;
  /** Schema findings: a command is queued even if malformed, so CommandFormatError can be tested. */
  warnings: ValidationIssue[];
}

export interface MdmServiceOptions {
  store: Storage;
  clock: Clock;
  events: EventLog;
}

/**
 * Policies that react to device traffic (the agent install, the reinstall rule) observe it
 * here. Each hook runs after the service has computed its answer, so whatever a hook queues
 * cannot change the answer in flight; hooks run on every request and must be cheap and must
 * not throw.
 */
export interface MdmObserver {
  /** After an accepted check-in (TokenUpdate carries its tally; 1 = the enrollment). */
  checkedIn?(e: Readonly<EnrollmentRecord>, messageType: string, tally: number | undefined): void;
  /** After an accepted connect: an Idle, or a report on a command (`requestType`: the command it answers, if queued). */
  connected?(e: Readonly<EnrollmentRecord>, results: CommandResults, requestType: string | undefined): void;
}

export class MdmService {
  private readonly store: Storage;
  private readonly clock: Clock;
  private readonly events: EventLog;
  private observer?: MdmObserver;

  constructor(options: MdmServiceOptions) {
    this.store = options.store;
    this.clock = options.clock;
    this.events = options.events;
  }

  /** Sets (or, undefined, removes) the observer of device traffic. */
  observe(observer: MdmObserver | undefined): void {
    this.observer = observer;
  }

  // ---- check-in (CheckInURL) ------------------------------------------------------------

  /**
   * `signer` is the certificate that signed the request (Mdm-Signature), or undefined when the
   * server runs without signatures: Authenticate binds it to the device, every later message
   * must come from it.
   */
  checkin(value: unknown, signer?: VerifiedSigner): MdmResponse {
    const message = decodeCheckin(value);
    const id = this.enrollmentIdOf(message);
    if (message.MessageType === 'UserAuthenticate') {
      // No user-channel management: 410 tells macOS to go on without it (as NanoMDM does).
      this.events.record({
        type: 'mdm.checkin',
        udid: id,
        from: 'device',
        to: 'mdm',
        summary: 'UserAuthenticate → 410 (user channel declined)',
        data: { messageType: 'UserAuthenticate', status: 410 },
      });
      return { status: 410 };
    }
    if (isUserChannel(message)) {
      throw problem(400, 'user-channel-unsupported', `${message.MessageType} from a user channel is not supported`, {
        field: message.UserID !== undefined ? 'UserID' : message.EnrollmentUserID !== undefined ? 'EnrollmentUserID' : 'UserShortName',
        hint: 'mdmsim manages the device channel only; UserAuthenticate is answered 410 so macOS skips the user channel',
      });
    }
    const existing = this.store.getEnrollment(id);
    if (message.MessageType === 'Authenticate') {
      // The device says what it is here; every later message is checked against that.
      const platform = platformFromAuthenticate(message);
      const osVersion = typeof message.OSVersion === 'string' ? message.OSVersion : undefined;
      this.mustValidate(validateCheckin(value as PlistDict, validationContext(platform, osVersion, message)), 'Authenticate');
      if (signer) this.mustBeUnclaimed(id, signer);
      return this.authenticate(id, message, platform, signer, this.clock.now());
    }
    if (signer && existing) this.mustBeBound(existing, signer, message.MessageType);
    this.mustValidate(validateCheckin(value as PlistDict, existing ? this.contextOf(existing) : {}), message.MessageType);
    const now = this.clock.now();

    switch (message.MessageType) {
      case 'TokenUpdate': {
        this.mustExist(id, existing, 'TokenUpdate');
        const tally = this.store.storeTokenUpdate(
          id,
          {
            topic: message.Topic,
            token: message.Token.toString('hex'),
            pushMagic: message.PushMagic,
            unlockToken: message.UnlockToken,
            awaitingConfiguration: message.AwaitingConfiguration,
          },
          now,
        );
        // Events point at the record's strings: the log keeps no copies of its own.
        const e = this.store.getEnrollment(id)!;
        this.record(e.id, 'TokenUpdate', `TokenUpdate tally ${tally}${tally === 1 ? ': enrolled, enrollment enabled' : ''}`, {
          tally,
          topic: e.topic,
          token: e.token,
          pushMagic: e.pushMagic,
        });
        this.observer?.checkedIn?.(e, 'TokenUpdate', tally);
        return EMPTY_OK;
      }
      case 'CheckOut': {
        const e = this.mustExist(id, existing, 'CheckOut');
        this.store.disable(id, now);
        this.record(e.id, 'CheckOut', 'CheckOut: enrollment disabled', {});
        return EMPTY_OK;
      }
      case 'SetBootstrapToken': {
        const e = this.mustExist(id, existing, 'SetBootstrapToken');
        const token = message.BootstrapToken;
        this.store.storeBootstrapToken(id, token, now);
        const removed = !token || token.length === 0;
        this.record(e.id, 'SetBootstrapToken', removed ? 'SetBootstrapToken: token removed' : `SetBootstrapToken: ${token.length} bytes escrowed`, {
          bytes: token?.length ?? 0,
        });
        this.observer?.checkedIn?.(e, 'SetBootstrapToken', undefined);
        return EMPTY_OK;
      }
      case 'GetBootstrapToken': {
        const e = this.mustExist(id, existing, 'GetBootstrapToken');
        this.store.touch(id, now);
        const body: BootstrapTokenResponse = e.bootstrapToken ? { BootstrapToken: e.bootstrapToken } : {};
        this.record(e.id, 'GetBootstrapToken', e.bootstrapToken ? 'GetBootstrapToken: token returned' : 'GetBootstrapToken: none escrowed', {});
        const answer: MdmResponse = { status: 200, body: buildPlistBuffer(body as PlistDict), contentType: PLIST_CONTENT_TYPE };
        this.observer?.checkedIn?.(e, 'GetBootstrapToken', undefined);
        return answer;
      }
      case 'DeclarativeManagement':
      case 'GetToken':
        this.mustExist(id, existing, message.MessageType);
        throw problem(400, 'not-supported', `mdmsim does not serve ${message.MessageType} check-ins`, {
          field: 'MessageType',
          hint: 'mdmsim never sends the commands that lead a device to this check-in',
        });
    }
  }

  private authenticate(id: string, m: Authenticate, platform: Platform | undefined, signer: VerifiedSigner | undefined, now: number): MdmResponse {
    this.store.storeAuthenticate(
      {
        id,
        udid: m.UDID,
        enrollmentId: m.EnrollmentID,
        serialNumber: m.SerialNumber,
        platform,
        osVersion: m.OSVersion,
        buildVersion: m.BuildVersion,
        productName: m.ProductName,
        model: m.Model,
        modelName: m.ModelName,
        deviceName: m.DeviceName,
        topic: m.Topic,
        identityCertSha256: signer?.sha256,
      },
      now,
    );
    const what = [m.ProductName ?? m.Model, platform && m.OSVersion ? `${platform} ${m.OSVersion}` : m.OSVersion, m.SerialNumber && `serial ${m.SerialNumber}`]
      .filter(Boolean)
      .join(', ');
    const e = this.store.getEnrollment(id)!;
    this.record(
      e.id,
      'Authenticate',
      `Authenticate${what ? ` (${what})` : ''}: enrollment created disabled, queue cleared` +
        (signer ? `, identity ${signer.sha256.slice(0, 12)}… bound` : ''),
      {
        serialNumber: e.serialNumber,
        platform: e.platform,
        osVersion: e.osVersion,
        productName: e.productName,
        topic: e.topic,
        identityCertSha256: e.identityCertSha256,
      },
    );
    return EMPTY_OK;
  }

  // ---- connect (ServerURL) --------------------------------------------------------------

  /** `signer`: as for checkin; it must be the certificate bound to the device. */
  connect(value: unknown, raw: Buffer, signer?: VerifiedSigner): MdmResponse {
    const results = decodeCommandResults(value);
    const id = this.enrollmentIdOf(results);
    if (isUserChannel(results)) {
      throw problem(400, 'user-channel-unsupported', 'connects from a user channel are not supported', {
        hint: 'mdmsim manages the device channel only',
      });
    }
    const enrollment = this.store.getEnrollment(id);
    if (!enrollment) {
      throw problem(400, 'unknown-enrollment', `no enrollment for ${id}`, {
        field: results.UDID !== undefined ? 'UDID' : 'EnrollmentID',
        hint: 'the device must send Authenticate and TokenUpdate to the CheckInURL first',
      });
    }
    if (signer) this.mustBeBound(enrollment, signer, `${results.Status} report`);
    if (!enrollment.enabled) {
      throw problem(400, 'enrollment-disabled', `the enrollment for ${id} is not enabled`, {
        hint:
          enrollment.tokenUpdateTally === 0
            ? 'send TokenUpdate after Authenticate to enable it'
            : 'it checked out; enroll again (Authenticate, TokenUpdate)',
      });
    }
    const udid = enrollment.id;
    const now = this.clock.now();
    const status = results.Status;
    // Only this device's own queue says what the report answers: a CommandUUID queued for
    // another device must be `unknown-command`, never checked against that command's schema.
    const command = results.CommandUUID !== undefined ? this.store.queuedCommand(udid, results.CommandUUID) : undefined;
    this.mustValidate(
      validateCommandResponse(command?.requestType, value as PlistDict, this.contextOf(enrollment)),
      `${status} report`,
    );

    if (status === 'Idle') {
      // A new connection: commands answered NotNow in the last one are offered again.
      this.store.resetNotNow(udid);
      this.store.touch(udid, now);
      this.events.record({ type: 'mdm.connect.idle', udid, from: 'device', to: 'mdm', summary: 'Idle', data: { status: 'Idle' } });
    } else {
      this.reportResult(udid, results, command?.requestType, raw, now);
    }

    const next = this.store.nextCommand(udid);
    let answer: MdmResponse;
    if (!next) {
      this.events.record({ type: 'mdm.connect.empty', udid, from: 'mdm', to: 'device', summary: 'no more commands (empty 200)' });
      answer = EMPTY_OK;
    } else {
      this.events.record({
        type: 'mdm.command.delivered',
        udid,
        from: 'mdm',
        to: 'device',
        summary: `${next.requestType} ${next.commandUUID}`,
        data: { commandUUID: next.commandUUID, requestType: next.requestType },
      });
      answer = { status: 200, body: next.body, contentType: PLIST_CONTENT_TYPE };
    }
    // After the answer is fixed: a command a policy queues now goes out with its own push.
    this.observer?.connected?.(enrollment, results, command?.requestType);
    return answer;
  }

  private reportResult(id: string, results: CommandResults, requestType: string | undefined, raw: Buffer, now: number): void {
    const commandUUID = results.CommandUUID!;
    const outcome = this.store.storeReport(id, { commandUUID, status: results.Status, raw, at: now });
    if (outcome === 'unknown') {
      throw problem(400, 'unknown-command', `${id} reported ${results.Status} for CommandUUID ${commandUUID}, which was never queued for it`, {
        field: 'CommandUUID',
        expected: 'the CommandUUID of a command this server sent to this device',
      });
    }
    this.store.touch(id, now);
    const chain = results.ErrorChain?.[0];
    const data: Record<string, unknown> = { commandUUID, status: results.Status, requestType };
    if (results.ErrorChain) data.errorChain = results.ErrorChain;
    if (outcome === 'repeat') data.repeat = true;
    this.events.record({
      type: 'mdm.command.result',
      udid: id,
      from: 'device',
      to: 'mdm',
      summary:
        `${results.Status} ${requestType === undefined ? '' : `${requestType} `}${commandUUID}` +
        (chain ? ` (${chain.ErrorDomain} ${chain.ErrorCode}: ${chain.LocalizedDescription})` : '') +
        (outcome === 'repeat' ? ' (repeated report, already stored)' : ''),
      data,
    });
  }

  // ---- enqueue (control API, policies) --------------------------------------------------

  enqueue(ids: readonly string[], command: Command, source: 'operator' | 'policy' = 'operator'): EnqueueResult {
    const requestType = command.Command.RequestType;
    const rejected: Record<string, Problem> = {};
    const queued: string[] = [];
    const warnings = new Map<string, ValidationIssue>();
    // One validation per kind of device, not per device: a command to 10,000 Macs on two
    // OS versions is checked twice.
    const validated = new Set<string>();
    for (const id of new Set(ids)) {
      const e = this.store.getEnrollment(id);
      if (!e) {
        rejected[id] = problem(404, 'unknown-enrollment', `no enrollment ${id}`, { hint: 'list enrollments with GET /sim/v1/devices' }).problem;
      } else if (!e.enabled) {
        rejected[id] = problem(409, 'enrollment-disabled', `the enrollment ${id} is not enabled`, {
          hint: 'a device is enabled by its TokenUpdate; a CheckOut or a new Authenticate disables it',
        }).problem;
      } else {
        queued.push(id);
        const context = this.contextOf(e);
        const kind = `${context.platform}|${context.osVersion}|${context.enrollment}`;
        if (!validated.has(kind)) {
          validated.add(kind);
          for (const w of validateCommand(command as unknown as PlistDict, context).errors) warnings.set(`${w.path}:${w.code}`, w);
        }
      }
    }
    if (queued.length > 0) {
      const now = this.clock.now();
      try {
        this.store.enqueue(queued, { commandUUID: command.CommandUUID, requestType, body: encodeCommand(command), createdAt: now });
      } catch (error) {
        if (error instanceof DuplicateCommandError) {
          throw problem(409, 'duplicate-command-uuid', error.message, {
            field: 'CommandUUID',
            hint: 'omit CommandUUID to have one generated, or use a new UUID',
          });
        }
        throw error;
      }
      for (const id of queued) {
        this.events.record({
          type: 'mdm.command.queued',
          udid: id,
          from: source,
          to: 'mdm',
          summary: `${requestType} ${command.CommandUUID} queued`,
          data: { commandUUID: command.CommandUUID, requestType },
        });
      }
    }
    return { commandUUID: command.CommandUUID, requestType, queued, rejected, warnings: [...warnings.values()] };
  }

  // ---- helpers --------------------------------------------------------------------------

  private enrollmentIdOf(m: EnrollmentKeys): string {
    const id = deviceChannelId(m);
    if (id === undefined || id === '') {
      throw problem(400, 'missing-udid', 'the message names no device', {
        field: 'UDID',
        expected: 'UDID (or EnrollmentID for a User Enrollment)',
      });
    }
    return id;
  }

  private contextOf(e: Readonly<EnrollmentRecord>): ValidationContext {
    return validationContext(e.platform, e.osVersion, { UDID: e.udid, EnrollmentID: e.enrollmentId });
  }

  private mustValidate(result: ValidationResult, what: string): void {
    if (result.ok) return;
    const first = result.errors[0]!;
    throw problem(400, 'invalid-message', `${what}: ${first.message}`, {
      field: first.path,
      expected: first.expected,
      hint: result.errors.length > 1 ? `${result.errors.length - 1} more: ${result.errors.slice(1).map((e) => e.message).join('; ')}` : undefined,
    });
  }

  /**
   * Authenticate may bind a certificate that no other enrollment holds: one identity speaking
   * for two devices would let either act as the other (NanoMDM refuses this too).
   */
  private mustBeUnclaimed(id: string, signer: VerifiedSigner): void {
    const holder = this.store.enrollmentIdForCertificate(signer.sha256);
    if (holder === undefined || holder === id) return;
    throw problem(400, 'certificate-bound-elsewhere', `Authenticate for ${id} is signed by the identity certificate bound to ${holder}`, {
      field: 'Mdm-Signature',
      expected: 'a device identity no other enrollment uses',
      hint: 'each device needs its own enrollment profile: download one per device from GET /mdm/enroll',
    });
  }

  private mustBeBound(e: Readonly<EnrollmentRecord>, signer: VerifiedSigner, what: string): void {
    if (e.identityCertSha256 === signer.sha256) return;
    const bound = e.identityCertSha256 === undefined ? 'no certificate (it authenticated without a signature)' : `certificate ${e.identityCertSha256.slice(0, 16)}…`;
    throw problem(400, 'certificate-not-bound', `${what} from ${e.id} is signed by certificate ${signer.sha256.slice(0, 16)}… (${signer.subject}), but its enrollment is bound to ${bound}`, {
      field: 'Mdm-Signature',
      expected: 'the identity certificate that signed the Authenticate of this enrollment',
      hint: 'a device that installed a new enrollment profile must send Authenticate again to bind its new identity',
    });
  }

  private mustExist(id: string, e: Readonly<EnrollmentRecord> | undefined, what: string): Readonly<EnrollmentRecord> {
    if (!e) {
      throw problem(400, 'unknown-enrollment', `${what} from ${id}, which has not sent Authenticate`, {
        field: 'UDID',
        hint: 'a device sends Authenticate first, then TokenUpdate',
      });
    }
    return e;
  }

  private record(udid: string, messageType: string, summary: string, data: Record<string, unknown>): void {
    this.events.record({ type: 'mdm.checkin', udid, from: 'device', to: 'mdm', summary, data: { messageType, ...data } });
  }
}

/** A User Enrollment names itself by EnrollmentID alone; a device enrollment has a UDID. */
function validationContext(platform: Platform | undefined, osVersion: string | undefined, ids: EnrollmentKeys): ValidationContext {
  return { platform, osVersion, enrollment: ids.UDID === undefined && ids.EnrollmentID !== undefined ? 'user' : 'device' };
}
