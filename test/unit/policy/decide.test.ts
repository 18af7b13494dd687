import { agentSilentSince, decideReinstall, isAgentOverdue, lastAttemptAt, type DecideContext } from '../../../server/policy/decide';
import { DEFAULT_AGENT_POLICY, type AgentPolicySettings } from '../../../server/policy/settings';
import type { EnrollmentRecord } from '../../../server/storage/types';

const DAY = 86_400_000;
const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 0, 5, 9);

function record(over: Partial<EnrollmentRecord> = {}): EnrollmentRecord {
  return {
    id: 'U1',
    udid: 'U1',
    platform: 'macOS',
    osVersion: '14.4.1',
    topic: 'com.apple.mgmt.External.x',
    enabled: true,
    tokenUpdateTally: 1,
    authenticatedAt: T0,
    enrolledAt: T0,
    lastSeenAt: T0,
    agentInstallAttempts: 1,
    agentInstallLastFiredAt: T0,
    ...over,
  };
}

function ctx(now: number, settings: Partial<AgentPolicySettings> = {}, over: Partial<DecideContext> = {}): DecideContext {
  return { now, settings: { ...DEFAULT_AGENT_POLICY, ...settings }, isQueued: () => true, unsupported: () => undefined, ...over };
}

describe('agent silence', () => {
  it('counts from the later of the last agent check-in and the enrollment', () => {
    expect(agentSilentSince(record())).toBe(T0);
    expect(agentSilentSince(record({ agentLastCheckinAt: T0 + DAY }))).toBe(T0 + DAY);
    // Heard before a re-enrollment: the new enrollment starts a fresh window.
    expect(agentSilentSince(record({ agentLastCheckinAt: T0 - 30 * DAY }))).toBe(T0);
    // Authenticated but never enrolled (no TokenUpdate): from the Authenticate.
    expect(agentSilentSince(record({ enrolledAt: undefined, authenticatedAt: T0 - 1 }))).toBe(T0 - 1);
  });

  it('is overdue strictly after agentWindow, and never for a disabled enrollment', () => {
    const e = record({ agentLastCheckinAt: T0 });
    expect(isAgentOverdue(e, T0 + 7 * DAY, 7 * DAY)).toBe(false);
    expect(isAgentOverdue(e, T0 + 7 * DAY + 1, 7 * DAY)).toBe(true);
    expect(isAgentOverdue(record({ enabled: false }), T0 + 30 * DAY, 7 * DAY)).toBe(false);
  });

  it('retries count from the later of the last fire and its answer', () => {
    expect(lastAttemptAt(record({ agentInstallLastFiredAt: undefined }))).toBeUndefined();
    expect(lastAttemptAt(record({ agentInstallLastFiredAt: T0, agentInstallLastOutcomeAt: T0 + HOUR }))).toBe(T0 + HOUR);
    expect(lastAttemptAt(record({ agentInstallLastFiredAt: T0 + DAY, agentInstallLastOutcomeAt: T0 + HOUR }))).toBe(T0 + DAY);
  });
});

describe('decideReinstall', () => {
  const overdue = T0 + 8 * DAY;
  const fresh = { lastSeenAt: overdue - HOUR };

  it('never fires for a device deleted through the API (its agent was told to uninstall), however long the agent is silent', () => {
    const removed = record({ ...fresh, agentLastCheckinAt: T0 + 1, agentInstallLastOutcome: 'Acknowledged', removedAt: T0 + 2 });
    expect(isAgentOverdue(removed, overdue, 7 * DAY)).toBe(false);
    expect(decideReinstall(removed, ctx(overdue))).toEqual({ action: 'none' });
    expect(decideReinstall(removed, ctx(T0 + 60 * DAY))).toEqual({ action: 'none' });
    // The same device not deleted fires.
    expect(decideReinstall({ ...removed, removedAt: undefined }, ctx(overdue))).toEqual({ action: 'fire', reason: 'agent-silent' });
  });

  it('fires for a macOS device whose agent is overdue and whose MDM is fresh', () => {
    expect(decideReinstall(record({ ...fresh, agentLastCheckinAt: T0 + 1, agentInstallLastOutcome: 'Acknowledged' }), ctx(overdue))).toEqual({ action: 'fire', reason: 'agent-silent' });
    expect(decideReinstall(record(fresh), ctx(overdue))).toEqual({ action: 'fire', reason: 'agent-never-checked-in' });
    // Heard only in an earlier enrollment: never in this one.
    expect(decideReinstall(record({ ...fresh, agentLastCheckinAt: T0 - DAY }), ctx(overdue))).toEqual({ action: 'fire', reason: 'agent-never-checked-in' });
  });

  it('does nothing while the agent is within its window, or for a disabled enrollment', () => {
    expect(decideReinstall(record({ agentLastCheckinAt: T0 + 2 * DAY, lastSeenAt: overdue }), ctx(overdue))).toEqual({ action: 'none' });
    expect(decideReinstall(record({ ...fresh, enabled: false }), ctx(overdue))).toEqual({ action: 'none' });
  });

  it('skips with the first reason that applies, in order', () => {
    const skip = (over: Partial<EnrollmentRecord>, s: Partial<AgentPolicySettings> = {}, c: Partial<DecideContext> = {}) => decideReinstall(record({ ...fresh, ...over }), ctx(overdue, s, c));
    expect(skip({ platform: 'iOS' }, { reinstall: false })).toEqual({ action: 'skip', reason: 'not-macos' });
    expect(skip({ platform: undefined })).toEqual({ action: 'skip', reason: 'not-macos' });
    expect(skip({ lastSeenAt: T0 }, { reinstall: false })).toEqual({ action: 'skip', reason: 'disabled' });
    expect(skip({ lastSeenAt: T0 }, {}, { unsupported: () => ({ unsupported: 'too old' }) })).toEqual({ action: 'skip', reason: 'unsupported-os' });
    expect(skip({ lastSeenAt: T0, agentInstallPending: 'P' })).toEqual({ action: 'skip', reason: 'mdm-silent' });
    expect(skip({ agentInstallPending: 'P', agentInstallLastFiredAt: overdue - HOUR })).toEqual({ action: 'skip', reason: 'pending' });
    expect(skip({ agentInstallLastFiredAt: overdue - HOUR })).toEqual({ action: 'skip', reason: 'retry-wait' });
    expect(skip({ agentInstallLastFiredAt: T0, agentInstallLastOutcomeAt: overdue - 23 * HOUR })).toEqual({ action: 'skip', reason: 'retry-wait' });
  });

  it('MDM within the window (inclusive) counts as alive', () => {
    const s = { mdmWindow: 7 * DAY };
    expect(decideReinstall(record({ lastSeenAt: overdue - 7 * DAY }), ctx(overdue, s)).action).toBe('fire');
    expect(decideReinstall(record({ lastSeenAt: overdue - 7 * DAY - 1 }), ctx(overdue, s))).toEqual({ action: 'skip', reason: 'mdm-silent' });
  });

  it('a pending marker whose command is no longer queued does not block', () => {
    const e = record({ ...fresh, agentInstallPending: 'GONE' });
    expect(decideReinstall(e, ctx(overdue, {}, { isQueued: () => false })).action).toBe('fire');
  });

  it('waits retryInterval exactly', () => {
    const s = { retryInterval: DAY };
    const e = record({ ...fresh, agentInstallLastFiredAt: overdue - DAY + 1 });
    expect(decideReinstall(e, ctx(overdue, s))).toEqual({ action: 'skip', reason: 'retry-wait' });
    expect(decideReinstall(e, ctx(overdue + 1, s)).action).toBe('fire');
  });

  it('follows the windows it is given', () => {
    const e = record({ agentLastCheckinAt: T0, lastSeenAt: T0 + 2 * DAY });
    expect(decideReinstall(e, ctx(T0 + 2 * DAY + HOUR)).action).toBe('none');
    expect(decideReinstall(e, ctx(T0 + 2 * DAY + HOUR, { agentWindow: 2 * DAY, retryInterval: HOUR })).action).toBe('fire');
    expect(decideReinstall(e, ctx(T0 + 2 * DAY + HOUR, { agentWindow: 2 * DAY, mdmWindow: HOUR / 2 }))).toEqual({ action: 'skip', reason: 'mdm-silent' });
  });
});
