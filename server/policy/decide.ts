/**
 * The reinstall rule as a pure function of one enrollment, the settings and the time, so it
 * can be tested without a server. From the vendor's documentation: a macOS device that has
 * checked in via MDM in the last 7 days but not via the agent in the last 7 days gets an
 * InstallEnterpriseApplication for the agent.
 *
 * Checks, in order (the first that applies is the answer):
 *  1. the enrollment is not enabled (checked out, or Authenticate without TokenUpdate), or the
 *     device was deleted through the API → none
 *  2. the agent is not overdue: its silence, counted from the later of its last check-in and
 *     the enrollment (a wiped Mac that enrolls again gets a fresh window), is at most
 *     agentWindow → none
 *  3. not macOS → skip `not-macos` (no agent exists for it)
 *  4. the rule is turned off → skip `disabled`
 *  5. the device's macOS cannot take InstallEnterpriseApplication (before 10.13.6) → skip `unsupported-os`
 *  6. its last MDM check-in is older than mdmWindow (a Mac offline all week) → skip `mdm-silent`
 *  7. an agent install is queued or NotNow → skip `pending`
 *  8. the last install (the enrollment one included) was queued, or answered, less than
 *     retryInterval ago → skip `retry-wait`. Counting from the answer too matters for an
 *     Acknowledged install: the agent needs a moment to start and check in, and a re-check
 *     at that very connect must not queue another install.
 *  9. otherwise → fire.
 */
import type { EnrollmentRecord } from '../storage/types';
import type { AgentPolicySettings } from './settings';

export type SkipReason = 'not-macos' | 'disabled' | 'unsupported-os' | 'mdm-silent' | 'pending' | 'retry-wait';
export const SKIP_REASONS: readonly SkipReason[] = ['not-macos', 'disabled', 'unsupported-os', 'mdm-silent', 'pending', 'retry-wait'];

/** `agent-silent`: the agent checked in during this enrollment, then stopped; `agent-never-checked-in`: not once since it enrolled. */
export type FireReason = 'agent-silent' | 'agent-never-checked-in';

export type Decision = { action: 'none' } | { action: 'skip'; reason: SkipReason } | { action: 'fire'; reason: FireReason };

export interface DecideContext {
  now: number;
  settings: Readonly<AgentPolicySettings>;
  /** Whether the device's pending install is still in its queue (a stale marker does not block). */
  isQueued: (e: Readonly<EnrollmentRecord>, commandUUID: string) => boolean;
  /** Why the agent install cannot go to this device, if it cannot (its OS). */
  unsupported: (e: Readonly<EnrollmentRecord>) => unknown;
}

const NONE: Decision = Object.freeze({ action: 'none' });
const SKIPS = Object.fromEntries(SKIP_REASONS.map((r) => [r, Object.freeze({ action: 'skip', reason: r })])) as Record<SkipReason, Decision>;

/** When the agent's current silence began: its last check-in or the enrollment, whichever is later. */
export function agentSilentSince(e: Readonly<EnrollmentRecord>): number {
  const enrolled = e.enrolledAt ?? e.authenticatedAt;
  const last = e.agentLastCheckinAt;
  return last !== undefined && last > enrolled ? last : enrolled;
}

/** The later of the last install's queueing and its final answer: retries wait retryInterval from it. */
export function lastAttemptAt(e: Readonly<EnrollmentRecord>): number | undefined {
  const fired = e.agentInstallLastFiredAt;
  const answered = e.agentInstallLastOutcomeAt;
  if (fired === undefined) return answered;
  return answered !== undefined && answered > fired ? answered : fired;
}

/** The cheap test every MDM check-in runs first: most devices stop here. */
export function isAgentOverdue(e: Readonly<EnrollmentRecord>, now: number, agentWindow: number): boolean {
  // A device deleted through the API is leaving: its agent was told to uninstall, never reinstalled.
  return e.enabled && e.removedAt === undefined && now - agentSilentSince(e) > agentWindow;
}

export function decideReinstall(e: Readonly<EnrollmentRecord>, c: DecideContext): Decision {
  const { now, settings } = c;
  if (!isAgentOverdue(e, now, settings.agentWindow)) return NONE;
  if (e.platform !== 'macOS') return SKIPS['not-macos'];
  if (!settings.reinstall) return SKIPS.disabled;
  if (c.unsupported(e) !== undefined) return SKIPS['unsupported-os'];
  if (now - e.lastSeenAt > settings.mdmWindow) return SKIPS['mdm-silent'];
  if (e.agentInstallPending !== undefined && c.isQueued(e, e.agentInstallPending)) return SKIPS.pending;
  const last = lastAttemptAt(e);
  if (last !== undefined && now - last < settings.retryInterval) return SKIPS['retry-wait'];
  const seenThisEnrollment = e.agentLastCheckinAt !== undefined && e.agentLastCheckinAt >= e.authenticatedAt;
  return { action: 'fire', reason: seenThisEnrollment ? 'agent-silent' : 'agent-never-checked-in' };
}
