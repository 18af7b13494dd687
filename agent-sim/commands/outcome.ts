/** Small constructors for HandlerOutcome, so handlers read as what they answer. */
import type { PlistDict } from '../../protocol/plist/types';
import type { ErrorChainItem } from '../../protocol/result';
import type { AfterReport, HandlerOutcome } from '../state';

export function failure(errorChain: ErrorChainItem[]): HandlerOutcome {
  return { status: 'Error', errorChain };
}

export function formatError(errorChain: ErrorChainItem[]): HandlerOutcome {
  return { status: 'CommandFormatError', errorChain };
}

export function acknowledged(response?: PlistDict, after?: AfterReport[]): HandlerOutcome {
  const outcome: Extract<HandlerOutcome, { status: 'Acknowledged' }> = { status: 'Acknowledged' };
  if (response !== undefined) outcome.response = response;
  if (after !== undefined && after.length > 0) outcome.after = after;
  return outcome;
}
