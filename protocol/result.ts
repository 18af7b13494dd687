/**
 * What a device sends to the ServerURL: a report of its last command (`Acknowledged`,
 * `Error`, `CommandFormatError`, `NotNow`) or `Idle` when it has nothing to report.
 */
import { isPlistDict, type PlistDict, type PlistValue } from './plist/types';
import { problem } from './problem';
import type { EnrollmentKeys } from './checkin';

export const COMMAND_STATUSES = ['Acknowledged', 'Error', 'CommandFormatError', 'Idle', 'NotNow'] as const;
export type CommandStatus = (typeof COMMAND_STATUSES)[number];

/** Statuses that finish a command: it leaves the queue. */
export const FINAL_STATUSES: ReadonlySet<CommandStatus> = new Set(['Acknowledged', 'Error', 'CommandFormatError']);

// A type alias rather than an interface, so an ErrorChain is assignable to plist values.
export type ErrorChainItem = {
  ErrorCode: number;
  ErrorDomain: string;
  LocalizedDescription: string;
  USEnglishDescription?: string;
};

export interface CommandResults extends EnrollmentKeys {
  Status: CommandStatus;
  CommandUUID?: string;
  ErrorChain?: ErrorChainItem[];
  [key: string]: PlistValue | undefined;
}

export function isCommandStatus(v: unknown): v is CommandStatus {
  return typeof v === 'string' && (COMMAND_STATUSES as readonly string[]).includes(v);
}

/** Narrows a parsed connect body to CommandResults, with an actionable error otherwise. */
export function decodeCommandResults(value: unknown): CommandResults {
  if (!isPlistDict(value as never)) {
    throw problem(400, 'not-a-dict', 'a connect request must be a plist whose root is a <dict>', {
      expected: '<dict> with Status (and CommandUUID unless Status is Idle)',
    });
  }
  const dict = value as PlistDict;
  if (dict.Status === undefined) {
    throw problem(400, 'missing-status', 'the connect request has no Status key', {
      field: 'Status',
      expected: COMMAND_STATUSES.join(' | '),
      hint: dict.MessageType !== undefined ? 'check-in messages go to the CheckInURL (/mdm/checkin)' : undefined,
    });
  }
  if (!isCommandStatus(dict.Status)) {
    throw problem(400, 'bad-status', `unknown Status ${JSON.stringify(dict.Status)}`, {
      field: 'Status',
      expected: COMMAND_STATUSES.join(' | '),
    });
  }
  if (dict.Status !== 'Idle' && (typeof dict.CommandUUID !== 'string' || dict.CommandUUID === '')) {
    throw problem(400, 'missing-command-uuid', `a ${dict.Status} report must name the command it answers`, {
      field: 'CommandUUID',
      expected: 'the CommandUUID of the command being reported',
    });
  }
  return dict as unknown as CommandResults;
}

/** Device-side builders: what a Mac sends back. */
export const reports = {
  Idle(ids: EnrollmentKeys): CommandResults {
    return { ...ids, Status: 'Idle' };
  },
  Acknowledged(ids: EnrollmentKeys, CommandUUID: string, response: PlistDict = {}): CommandResults {
    return { ...ids, ...response, CommandUUID, Status: 'Acknowledged' };
  },
  NotNow(ids: EnrollmentKeys, CommandUUID: string): CommandResults {
    return { ...ids, CommandUUID, Status: 'NotNow' };
  },
  Error(ids: EnrollmentKeys, CommandUUID: string, ErrorChain: ErrorChainItem[]): CommandResults {
    return { ...ids, CommandUUID, Status: 'Error', ErrorChain };
  },
  CommandFormatError(ids: EnrollmentKeys, CommandUUID: string, ErrorChain?: ErrorChainItem[]): CommandResults {
    return ErrorChain ? { ...ids, CommandUUID, Status: 'CommandFormatError', ErrorChain } : { ...ids, CommandUUID, Status: 'CommandFormatError' };
  },
};
