/**
 * The storage conformance suite: every backend runs these same tests, unchanged.
 * Usage: `runStorageConformance('memory', () => new MemoryStorage())`.
 */
import { DuplicateCommandError, type AgentCheckinFacts, type AuthenticateFacts, type Storage, type StoredCommand } from '../../server/storage/types';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);

function facts(id: string, extra: Partial<AuthenticateFacts> = {}): AuthenticateFacts {
  return {
    id,
    udid: id,
    topic: 'com.apple.mgmt.External.e0bd1eac-1f17-4c8e-8a63-dd17d3dd35d9',
    serialNumber: 'C02XK1ABJGH5',
    platform: 'macOS',
    osVersion: '14.4.1',
    buildVersion: '23E224',
    productName: 'MacBookPro18,3',
    model: 'MacBookPro18,3',
    modelName: 'MacBook Pro',
    deviceName: 'Test Mac',
    ...extra,
  };
}

/** A topic unlike the Authenticate one, so a test sees which message the stored topic came from. */
const PUSH_TOPIC = 'com.apple.mgmt.External.7c4d9e20-3b1a-4f5e-8d6c-1a2b3c4d5e6f';

function push(n = 1) {
  return { topic: PUSH_TOPIC, token: 'ab'.repeat(32), pushMagic: `MAGIC-${n}` };
}

function cmd(uuid: string, requestType = 'DeviceInformation', at = T0): StoredCommand {
  return { commandUUID: uuid, requestType, body: Buffer.from(`<plist>${uuid}</plist>`), createdAt: at };
}

function enrolled(store: Storage, id: string): void {
  store.storeAuthenticate(facts(id), T0);
  store.storeTokenUpdate(id, push(), T0 + 1000);
}

export function runStorageConformance(name: string, makeStore: () => Storage): void {
  describe(`storage conformance: ${name}`, () => {
    let store: Storage;
    beforeEach(() => {
      store = makeStore();
    });
    afterEach(() => store.close());

    describe('enrollments', () => {
      it('Authenticate creates a disabled enrollment with the device facts', () => {
        store.storeAuthenticate(facts('UDID-1'), T0);
        const e = store.getEnrollment('UDID-1')!;
        expect(e).toMatchObject({ id: 'UDID-1', enabled: false, tokenUpdateTally: 0, serialNumber: 'C02XK1ABJGH5', platform: 'macOS', osVersion: '14.4.1', authenticatedAt: T0, lastSeenAt: T0 });
        expect(e.token).toBeUndefined();
        expect(e.enrolledAt).toBeUndefined();
      });

      it('TokenUpdate stores push info, enables, and counts a tally (1 = enrollment)', () => {
        store.storeAuthenticate(facts('UDID-1'), T0);
        expect(store.storeTokenUpdate('UDID-1', push(1), T0 + 5)).toBe(1);
        let e = store.getEnrollment('UDID-1')!;
        expect(e).toMatchObject({ enabled: true, tokenUpdateTally: 1, token: 'ab'.repeat(32), pushMagic: 'MAGIC-1', topic: PUSH_TOPIC, enrolledAt: T0 + 5 });
        expect(store.storeTokenUpdate('UDID-1', push(2), T0 + 9)).toBe(2);
        e = store.getEnrollment('UDID-1')!;
        expect(e).toMatchObject({ tokenUpdateTally: 2, pushMagic: 'MAGIC-2', enrolledAt: T0 + 5, lastSeenAt: T0 + 9 });
      });

      it('TokenUpdate for an unknown enrollment throws', () => {
        expect(() => store.storeTokenUpdate('NOPE', push(), T0)).toThrow(/Authenticate/);
      });

      it('keeps the UnlockToken when a later TokenUpdate omits it', () => {
        store.storeAuthenticate(facts('UDID-1'), T0);
        store.storeTokenUpdate('UDID-1', { ...push(), unlockToken: Buffer.from('unlock') }, T0);
        store.storeTokenUpdate('UDID-1', push(), T0 + 1);
        expect(store.getEnrollment('UDID-1')!.unlockToken?.toString()).toBe('unlock');
      });

      it('a new Authenticate resets tally, push info, bootstrap token, and disables', () => {
        enrolled(store, 'UDID-1');
        store.storeBootstrapToken('UDID-1', Buffer.from('bst'), T0 + 2);
        store.storeAuthenticate(facts('UDID-1', { osVersion: '15.0' }), T0 + 10);
        const e = store.getEnrollment('UDID-1')!;
        expect(e).toMatchObject({ enabled: false, tokenUpdateTally: 0, osVersion: '15.0', authenticatedAt: T0 + 10 });
        expect(e.bootstrapToken).toBeUndefined();
        expect(e.token).toBeUndefined();
        expect(store.storeTokenUpdate('UDID-1', push(), T0 + 11)).toBe(1);
      });

      it('binds the identity certificate at Authenticate and finds the enrollment by it', () => {
        const certA = 'a1'.repeat(32);
        const certB = 'b2'.repeat(32);
        store.storeAuthenticate(facts('UDID-1', { identityCertSha256: certA }), T0);
        store.storeTokenUpdate('UDID-1', push(), T0 + 1);
        expect(store.getEnrollment('UDID-1')!.identityCertSha256).toBe(certA);
        expect(store.enrollmentIdForCertificate(certA)).toBe('UDID-1');
        expect(store.enrollmentIdForCertificate(certB)).toBeUndefined();
        // Re-enrollment with a fresh identity: the new certificate is bound, the old one released.
        store.storeAuthenticate(facts('UDID-1', { identityCertSha256: certB }), T0 + 2);
        expect(store.getEnrollment('UDID-1')!.identityCertSha256).toBe(certB);
        expect(store.enrollmentIdForCertificate(certB)).toBe('UDID-1');
        expect(store.enrollmentIdForCertificate(certA)).toBeUndefined();
        // Without signatures (--auth none) nothing is bound.
        store.storeAuthenticate(facts('UDID-1'), T0 + 3);
        expect(store.getEnrollment('UDID-1')!.identityCertSha256).toBeUndefined();
        expect(store.enrollmentIdForCertificate(certB)).toBeUndefined();
      });

      it('a certificate moved to another enrollment is found there only', () => {
        const cert = 'c3'.repeat(32);
        store.storeAuthenticate(facts('UDID-1', { identityCertSha256: cert }), T0);
        store.storeAuthenticate(facts('UDID-2', { identityCertSha256: cert }), T0 + 1);
        expect(store.enrollmentIdForCertificate(cert)).toBe('UDID-2');
        // UDID-1 re-authenticating with another certificate must not release UDID-2's.
        store.storeAuthenticate(facts('UDID-1', { identityCertSha256: 'd4'.repeat(32) }), T0 + 2);
        expect(store.enrollmentIdForCertificate(cert)).toBe('UDID-2');
      });

      it('finds an enrollment by its push token, following TokenUpdate and Authenticate', () => {
        const tokenA = 'aa'.repeat(32);
        const tokenB = 'bb'.repeat(32);
        store.storeAuthenticate(facts('UDID-1'), T0);
        expect(store.enrollmentIdForToken(tokenA)).toBeUndefined();
        store.storeTokenUpdate('UDID-1', { ...push(), token: tokenA }, T0 + 1);
        expect(store.enrollmentIdForToken(tokenA)).toBe('UDID-1');
        // A new token replaces the old one.
        store.storeTokenUpdate('UDID-1', { ...push(), token: tokenB }, T0 + 2);
        expect(store.enrollmentIdForToken(tokenB)).toBe('UDID-1');
        expect(store.enrollmentIdForToken(tokenA)).toBeUndefined();
        // A token that moved to another device (re-enrollment under a new UDID) is found there only.
        store.storeAuthenticate(facts('UDID-2'), T0 + 3);
        store.storeTokenUpdate('UDID-2', { ...push(), token: tokenB }, T0 + 4);
        expect(store.enrollmentIdForToken(tokenB)).toBe('UDID-2');
        // Re-authenticating UDID-1 must not release UDID-2's token.
        store.storeAuthenticate(facts('UDID-1'), T0 + 5);
        expect(store.enrollmentIdForToken(tokenB)).toBe('UDID-2');
        // Authenticate forgets the token until the next TokenUpdate.
        store.storeAuthenticate(facts('UDID-2'), T0 + 6);
        expect(store.enrollmentIdForToken(tokenB)).toBeUndefined();
      });

      it('marks a push token invalid until the next TokenUpdate, and only if it is still the current token', () => {
        const tokenA = 'aa'.repeat(32);
        store.storeAuthenticate(facts('UDID-1'), T0);
        store.storeTokenUpdate('UDID-1', { ...push(), token: tokenA }, T0 + 1);
        expect(store.getEnrollment('UDID-1')!.pushTokenInvalidAt).toBeUndefined();
        // A 410 for a token the device no longer uses changes nothing.
        expect(store.markPushTokenInvalid('UDID-1', 'cc'.repeat(32), T0 + 2)).toBe(false);
        expect(store.markPushTokenInvalid('NOPE', tokenA, T0 + 2)).toBe(false);
        expect(store.getEnrollment('UDID-1')!.pushTokenInvalidAt).toBeUndefined();
        expect(store.markPushTokenInvalid('UDID-1', tokenA, T0 + 3)).toBe(true);
        expect(store.getEnrollment('UDID-1')!.pushTokenInvalidAt).toBe(T0 + 3);
        // The device re-registers (even with the same token): valid again.
        store.storeTokenUpdate('UDID-1', { ...push(), token: tokenA }, T0 + 4);
        expect(store.getEnrollment('UDID-1')!.pushTokenInvalidAt).toBeUndefined();
        store.markPushTokenInvalid('UDID-1', tokenA, T0 + 5);
        store.storeAuthenticate(facts('UDID-1'), T0 + 6);
        expect(store.getEnrollment('UDID-1')!.pushTokenInvalidAt).toBeUndefined();
      });

      it('disable turns an enrollment off and keeps its facts', () => {
        enrolled(store, 'UDID-1');
        store.disable('UDID-1', T0 + 50);
        expect(store.getEnrollment('UDID-1')).toMatchObject({ enabled: false, tokenUpdateTally: 1, lastSeenAt: T0 + 50 });
      });

      it('touch moves lastSeenAt; disable and touch of an unknown id change nothing', () => {
        enrolled(store, 'UDID-1');
        store.touch('UDID-1', T0 + 99);
        expect(store.getEnrollment('UDID-1')!.lastSeenAt).toBe(T0 + 99);
        store.touch('NOPE', T0);
        store.disable('NOPE', T0);
        expect(store.getEnrollment('NOPE')).toBeUndefined();
        expect(store.countEnrollments()).toBe(1);
      });

      it('stores, returns and removes the bootstrap token', () => {
        enrolled(store, 'UDID-1');
        expect(store.getEnrollment('UDID-1')!.bootstrapToken).toBeUndefined();
        store.storeBootstrapToken('UDID-1', Buffer.from('hello world'), T0);
        expect(store.getEnrollment('UDID-1')!.bootstrapToken!.toString()).toBe('hello world');
        store.storeBootstrapToken('UDID-1', Buffer.alloc(0), T0);
        expect(store.getEnrollment('UDID-1')!.bootstrapToken).toBeUndefined();
      });

      it('lists and counts with paging and an enabled filter', () => {
        for (let i = 0; i < 5; i++) enrolled(store, `UDID-${i}`);
        store.storeAuthenticate(facts('UDID-X'), T0);
        expect(store.countEnrollments()).toBe(6);
        expect(store.countEnrollments({ enabled: true })).toBe(5);
        expect(store.countEnrollments({ enabled: false })).toBe(1);
        expect(store.listEnrollments({ offset: 2, limit: 2 })).toHaveLength(2);
        expect(store.listEnrollments({ offset: 10 })).toEqual([]);
        const all = store.listEnrollments().map((e) => e.id);
        expect(new Set(all).size).toBe(6);
        const pages = [...store.listEnrollments({ offset: 0, limit: 4 }), ...store.listEnrollments({ offset: 4, limit: 4 })].map((e) => e.id);
        expect(pages).toEqual(all);
      });
    });

    describe('queue', () => {
      beforeEach(() => enrolled(store, 'D1'));

      it('delivers in order and dequeues on final statuses', () => {
        store.enqueue(['D1'], cmd('CMD1'));
        store.enqueue(['D1'], cmd('CMD2'));
        expect(store.nextCommand('D1')!.commandUUID).toBe('CMD1');
        expect(store.storeReport('D1', { commandUUID: 'CMD1', status: 'Acknowledged', raw: Buffer.from('r1'), at: T0 })).toBe('stored');
        expect(store.nextCommand('D1')!.commandUUID).toBe('CMD2');
        expect(store.storeReport('D1', { commandUUID: 'CMD2', status: 'Error', raw: Buffer.from('r2'), at: T0 })).toBe('stored');
        expect(store.nextCommand('D1')).toBeUndefined();
        expect(store.queueLength('D1')).toBe(0);
      });

      it('returns the serialized body unchanged', () => {
        store.enqueue(['D1'], cmd('CMD1'));
        expect(store.nextCommand('D1')!.body.toString()).toBe('<plist>CMD1</plist>');
      });

      it('NotNow keeps the command queued and marked, skipped until resetNotNow (the next Idle)', () => {
        store.enqueue(['D1'], cmd('CMD3'));
        store.enqueue(['D1'], cmd('CMD4'));
        expect(store.storeReport('D1', { commandUUID: 'CMD3', status: 'NotNow', raw: Buffer.from('nn'), at: T0 })).toBe('stored');
        expect(store.listQueue('D1').map((q) => [q.commandUUID, q.status])).toEqual([
          ['CMD3', 'NotNow'],
          ['CMD4', 'queued'],
        ]);
        expect(store.nextCommand('D1')!.commandUUID).toBe('CMD4');
        expect(store.storeReport('D1', { commandUUID: 'CMD4', status: 'NotNow', raw: Buffer.from('nn'), at: T0 })).toBe('stored');
        expect(store.nextCommand('D1')).toBeUndefined();
        expect(store.queueLength('D1')).toBe(2);
        store.resetNotNow('D1');
        expect(store.listQueue('D1').map((q) => q.status)).toEqual(['queued', 'queued']);
        expect(store.nextCommand('D1')!.commandUUID).toBe('CMD3');
        expect(store.storeReport('D1', { commandUUID: 'CMD3', status: 'Acknowledged', raw: Buffer.from('ok'), at: T0 + 1 })).toBe('stored');
        expect(store.listResults({ id: 'D1', commandUUID: 'CMD3' }).map((r) => r.status)).toEqual(['NotNow', 'Acknowledged']);
        expect(store.nextCommand('D1')!.commandUUID).toBe('CMD4');
      });

      it('queuedCommand finds a command only in that device\'s queue', () => {
        enrolled(store, 'D2');
        store.enqueue(['D1'], cmd('Q1', 'ProfileList'));
        expect(store.queuedCommand('D1', 'Q1')).toMatchObject({ commandUUID: 'Q1', requestType: 'ProfileList' });
        expect(store.queuedCommand('D2', 'Q1')).toBeUndefined();
        expect(store.queuedCommand('D1', 'NOPE')).toBeUndefined();
        store.storeReport('D1', { commandUUID: 'Q1', status: 'Acknowledged', raw: Buffer.from('x'), at: T0 });
        expect(store.queuedCommand('D1', 'Q1')).toBeUndefined();
      });

      it('a report for a NotNow command whose queue was cleared is unknown, not a repeat', () => {
        store.enqueue(['D1'], cmd('CLEARED'));
        store.storeReport('D1', { commandUUID: 'CLEARED', status: 'NotNow', raw: Buffer.from('nn'), at: T0 });
        store.clearQueue('D1');
        expect(store.storeReport('D1', { commandUUID: 'CLEARED', status: 'Acknowledged', raw: Buffer.from('x'), at: T0 })).toBe('unknown');
      });

      it('an unknown CommandUUID is reported unknown; a repeated final report is a repeat', () => {
        expect(store.storeReport('D1', { commandUUID: 'NEVER', status: 'Acknowledged', raw: Buffer.from('x'), at: T0 })).toBe('unknown');
        store.enqueue(['D1'], cmd('CMD5'));
        expect(store.storeReport('D1', { commandUUID: 'CMD5', status: 'Acknowledged', raw: Buffer.from('x'), at: T0 })).toBe('stored');
        expect(store.storeReport('D1', { commandUUID: 'CMD5', status: 'Acknowledged', raw: Buffer.from('x'), at: T0 })).toBe('repeat');
        expect(store.listResults({ commandUUID: 'CMD5' })).toHaveLength(1);
      });

      it('a command queued for one device is unknown to another', () => {
        enrolled(store, 'D2');
        store.enqueue(['D1'], cmd('ONLY-D1'));
        expect(store.storeReport('D2', { commandUUID: 'ONLY-D1', status: 'Acknowledged', raw: Buffer.from('x'), at: T0 })).toBe('unknown');
        expect(store.queueLength('D1')).toBe(1);
      });

      it('one command to many devices: each gets it, each reports separately', () => {
        enrolled(store, 'D2');
        enrolled(store, 'D3');
        store.enqueue(['D1', 'D2', 'D3'], cmd('MANY'));
        for (const id of ['D1', 'D2', 'D3']) expect(store.nextCommand(id)!.commandUUID).toBe('MANY');
        store.storeReport('D2', { commandUUID: 'MANY', status: 'Acknowledged', raw: Buffer.from('d2'), at: T0 });
        expect(store.nextCommand('D2')).toBeUndefined();
        expect(store.nextCommand('D1')!.commandUUID).toBe('MANY');
        expect(store.listResults({ commandUUID: 'MANY' }).map((r) => r.id)).toEqual(['D2']);
      });

      it('rejects a duplicate CommandUUID, even for another device', () => {
        enrolled(store, 'D2');
        store.enqueue(['D1'], cmd('DUP'));
        expect(() => store.enqueue(['D2'], cmd('DUP'))).toThrow(DuplicateCommandError);
        expect(store.queueLength('D2')).toBe(0);
        expect(store.queueLength('D1')).toBe(1);
      });

      it('stores results with their raw plist and the request type', () => {
        store.enqueue(['D1'], cmd('RAW', 'ProfileList'));
        const raw = Buffer.from('<?xml version="1.0"?><plist><dict/></plist>');
        store.storeReport('D1', { commandUUID: 'RAW', status: 'Acknowledged', raw, at: T0 + 7 });
        const [r] = store.listResults({ id: 'D1' });
        expect(r).toMatchObject({ id: 'D1', commandUUID: 'RAW', requestType: 'ProfileList', status: 'Acknowledged', at: T0 + 7 });
        expect(Buffer.compare(r!.raw, raw)).toBe(0);
        expect(store.getCommand('RAW')).toMatchObject({ commandUUID: 'RAW', requestType: 'ProfileList' });
      });

      it('clearQueue empties one enrollment only; Authenticate clears its queue', () => {
        enrolled(store, 'D2');
        store.enqueue(['D1', 'D2'], cmd('C1'));
        store.clearQueue('D1');
        expect(store.nextCommand('D1')).toBeUndefined();
        expect(store.nextCommand('D2')!.commandUUID).toBe('C1');
        store.storeAuthenticate(facts('D2'), T0 + 1);
        expect(store.nextCommand('D2')).toBeUndefined();
      });
    });

    describe('the vendor agent', () => {
      const checkin = (extra: Partial<AgentCheckinFacts> = {}): AgentCheckinFacts => ({ version: '1.4.2', kind: 'recurring', installedAt: T0 - 5000, ...extra });

      it('a new enrollment has no agent facts and no install policy state', () => {
        enrolled(store, 'A1');
        const e = store.getEnrollment('A1')!;
        expect(e.agentInstallAttempts).toBe(0);
        for (const k of ['agentLastCheckinAt', 'agentVersion', 'agentInstalledAt', 'agentLastCheckinKind', 'agentInventoryAt', 'agentInstallPending', 'agentInstallLastFiredAt', 'agentInstallLastOutcome', 'agentPolicyLastSkip', 'inventoryPending', 'inventoryLastQueuedAt'] as const) {
          expect(e[k]).toBeUndefined();
        }
        expect(store.agentInventory('A1')).toBeUndefined();
      });

      it('stores a check-in: server time, version, kind, install date; apps replace the inventory', () => {
        enrolled(store, 'A1');
        store.storeAgentCheckin('A1', checkin({ kind: 'install' }), T0 + 10);
        expect(store.getEnrollment('A1')).toMatchObject({ agentLastCheckinAt: T0 + 10, agentVersion: '1.4.2', agentLastCheckinKind: 'install', agentInstalledAt: T0 - 5000 });
        expect(store.getEnrollment('A1')!.agentInventoryAt).toBeUndefined();
        const apps = [{ bundle_id: 'com.apple.Safari', name: 'Safari', version: '17.4', path: '/Applications/Safari.app' }];
        store.storeAgentCheckin('A1', checkin({ kind: 'inventory', apps }), T0 + 20);
        store.storeAgentCheckin('A1', checkin({ version: '1.4.3' }), T0 + 30);
        expect(store.getEnrollment('A1')).toMatchObject({ agentLastCheckinAt: T0 + 30, agentVersion: '1.4.3', agentInventoryAt: T0 + 20 });
        expect(store.agentInventory('A1')).toEqual({ at: T0 + 20, apps });
        store.storeAgentCheckin('A1', checkin({ kind: 'inventory', apps: [] }), T0 + 40);
        expect(store.agentInventory('A1')).toEqual({ at: T0 + 40, apps: [] });
        expect(() => store.storeAgentCheckin('NOPE', checkin(), T0)).toThrow(/Authenticate/);
      });

      it('lists enabled enrollments whose agent went silent before a time, counting from the later of check-in and enrollment', () => {
        enrolled(store, 'NEVER'); // enrolled T0 + 1000, agent never heard
        enrolled(store, 'HEARD');
        store.storeAgentCheckin('HEARD', checkin(), T0 + 5000);
        enrolled(store, 'OFF');
        store.disable('OFF', T0 + 2000);
        const ids = (before: number) => store.listAgentSilent(before).map((e) => e.id).sort();
        expect(ids(T0 + 1000)).toEqual([]);
        expect(ids(T0 + 1001)).toEqual(['NEVER']);
        expect(ids(T0 + 5001)).toEqual(['HEARD', 'NEVER']);
        // Re-enrolled later: the old check-in no longer counts, the new enrollment does.
        store.storeAuthenticate(facts('HEARD'), T0 + 9000);
        store.storeTokenUpdate('HEARD', push(), T0 + 9500);
        expect(ids(T0 + 9500)).toEqual(['NEVER']);
        expect(ids(T0 + 9501)).toEqual(['HEARD', 'NEVER']);
      });

      it('tracks the install policy: queued (attempts counted), outcome only for the pending CommandUUID', () => {
        enrolled(store, 'A1');
        expect(store.markAgentInstallQueued('A1', 'IEA-1', T0 + 10)).toBe(1);
        expect(store.getEnrollment('A1')).toMatchObject({ agentInstallPending: 'IEA-1', agentInstallLastFiredAt: T0 + 10, agentInstallAttempts: 1 });
        expect(store.storeAgentInstallOutcome('A1', 'OTHER', 'Error', T0 + 11)).toBe(false);
        expect(store.getEnrollment('A1')!.agentInstallPending).toBe('IEA-1');
        expect(store.storeAgentInstallOutcome('A1', 'IEA-1', 'Error', T0 + 12)).toBe(true);
        expect(store.getEnrollment('A1')).toMatchObject({ agentInstallLastOutcome: 'Error', agentInstallLastOutcomeAt: T0 + 12, agentInstallAttempts: 1 });
        expect(store.getEnrollment('A1')!.agentInstallPending).toBeUndefined();
        expect(store.storeAgentInstallOutcome('A1', 'IEA-1', 'Acknowledged', T0 + 13)).toBe(false);
        expect(store.markAgentInstallQueued('A1', 'IEA-2', T0 + 20)).toBe(2);
        expect(store.storeAgentInstallOutcome('NOPE', 'IEA-2', 'Acknowledged', T0)).toBe(false);
        expect(() => store.markAgentInstallQueued('NOPE', 'X', T0)).toThrow();
      });

      it('remembers the last skip reason until an agent check-in or a fired install', () => {
        enrolled(store, 'A1');
        store.setAgentPolicySkip('A1', 'mdm-silent');
        expect(store.getEnrollment('A1')!.agentPolicyLastSkip).toBe('mdm-silent');
        store.storeAgentCheckin('A1', checkin(), T0 + 5);
        expect(store.getEnrollment('A1')!.agentPolicyLastSkip).toBeUndefined();
        store.setAgentPolicySkip('A1', 'retry-wait');
        store.markAgentInstallQueued('A1', 'IEA-1', T0 + 6);
        expect(store.getEnrollment('A1')!.agentPolicyLastSkip).toBeUndefined();
        store.setAgentPolicySkip('A1', 'pending');
        store.setAgentPolicySkip('A1', undefined);
        expect(store.getEnrollment('A1')!.agentPolicyLastSkip).toBeUndefined();
        store.setAgentPolicySkip('NOPE', 'pending');
        expect(store.getEnrollment('NOPE')).toBeUndefined();
      });

      it('Authenticate resets the policy and inventory state but keeps the agent history', () => {
        enrolled(store, 'A1');
        const apps = [{ bundle_id: 'a.b', name: 'AB', version: '1' }];
        store.storeAgentCheckin('A1', checkin({ kind: 'inventory', apps }), T0 + 5);
        store.markAgentInstallQueued('A1', 'IEA-1', T0 + 6);
        store.storeAgentInstallOutcome('A1', 'IEA-1', 'Acknowledged', T0 + 7);
        store.markAgentInstallQueued('A1', 'IEA-2', T0 + 8);
        store.setAgentPolicySkip('A1', 'pending');
        store.markInventoryQueued('A1', 'INV-1', T0 + 9);
        store.storeAuthenticate(facts('A1'), T0 + 100);
        const e = store.getEnrollment('A1')!;
        expect(e).toMatchObject({ agentLastCheckinAt: T0 + 5, agentVersion: '1.4.2', agentInstalledAt: T0 - 5000, agentLastCheckinKind: 'inventory', agentInventoryAt: T0 + 5, agentInstallAttempts: 0 });
        for (const k of ['agentInstallPending', 'agentInstallLastFiredAt', 'agentInstallLastOutcome', 'agentInstallLastOutcomeAt', 'agentPolicyLastSkip', 'inventoryPending', 'inventoryLastQueuedAt'] as const) {
          expect(e[k]).toBeUndefined();
        }
        expect(store.agentInventory('A1')).toEqual({ at: T0 + 5, apps });
        expect(store.storeAgentInstallOutcome('A1', 'IEA-2', 'Acknowledged', T0 + 101)).toBe(false);
      });

      it('records an Acknowledged agent install (only that outcome), kept across Authenticate', () => {
        enrolled(store, 'A1');
        expect(store.getEnrollment('A1')!.agentInstallAcknowledgedAt).toBeUndefined();
        store.markAgentInstallQueued('A1', 'IEA-1', T0 + 10);
        store.storeAgentInstallOutcome('A1', 'IEA-1', 'Error', T0 + 11);
        expect(store.getEnrollment('A1')!.agentInstallAcknowledgedAt).toBeUndefined();
        store.markAgentInstallQueued('A1', 'IEA-2', T0 + 20);
        store.storeAgentInstallOutcome('A1', 'IEA-2', 'Acknowledged', T0 + 21);
        expect(store.getEnrollment('A1')!.agentInstallAcknowledgedAt).toBe(T0 + 21);
        store.storeAuthenticate(facts('A1'), T0 + 100);
        expect(store.getEnrollment('A1')!.agentInstallAcknowledgedAt).toBe(T0 + 21);
      });

      it('marks the agent gone until an agent check-in or an Acknowledged install; kept across Authenticate', () => {
        enrolled(store, 'A1');
        expect(store.getEnrollment('A1')!.agentGoneAt).toBeUndefined();
        expect(store.markAgentGone('A1', T0 + 10)).toBe(true);
        expect(store.getEnrollment('A1')!.agentGoneAt).toBe(T0 + 10);
        store.storeAuthenticate(facts('A1'), T0 + 20);
        expect(store.getEnrollment('A1')!.agentGoneAt).toBe(T0 + 10);
        store.storeTokenUpdate('A1', push(), T0 + 21);
        store.storeAgentCheckin('A1', checkin(), T0 + 30);
        expect(store.getEnrollment('A1')!.agentGoneAt).toBeUndefined();
        store.markAgentGone('A1', T0 + 40);
        store.markAgentInstallQueued('A1', 'IEA-1', T0 + 41);
        store.storeAgentInstallOutcome('A1', 'IEA-1', 'Error', T0 + 42);
        expect(store.getEnrollment('A1')!.agentGoneAt).toBe(T0 + 40);
        store.markAgentInstallQueued('A1', 'IEA-2', T0 + 43);
        store.storeAgentInstallOutcome('A1', 'IEA-2', 'Acknowledged', T0 + 44);
        expect(store.getEnrollment('A1')!.agentGoneAt).toBeUndefined();
        expect(store.markAgentGone('NOPE', T0)).toBe(false);
      });
    });

    describe('first enrollment and API removal', () => {
      it('keeps the first enrollment time across re-enrollment, while enrolledAt follows the latest', () => {
        enrolled(store, 'F1'); // tally 1 at T0 + 1000
        expect(store.getEnrollment('F1')).toMatchObject({ firstEnrolledAt: T0 + 1000, enrolledAt: T0 + 1000 });
        store.storeTokenUpdate('F1', push(2), T0 + 1500);
        expect(store.getEnrollment('F1')!.firstEnrolledAt).toBe(T0 + 1000);
        store.storeAuthenticate(facts('F1'), T0 + 5000);
        expect(store.getEnrollment('F1')!.firstEnrolledAt).toBe(T0 + 1000);
        expect(store.getEnrollment('F1')!.enrolledAt).toBeUndefined();
        store.storeTokenUpdate('F1', push(), T0 + 6000);
        expect(store.getEnrollment('F1')).toMatchObject({ firstEnrolledAt: T0 + 1000, enrolledAt: T0 + 6000 });
      });

      it('marks a device removed; the Mac enrolling again (Authenticate) clears it', () => {
        enrolled(store, 'R1');
        expect(store.getEnrollment('R1')!.removedAt).toBeUndefined();
        expect(store.markRemoved('R1', T0 + 10)).toBe(true);
        expect(store.getEnrollment('R1')).toMatchObject({ removedAt: T0 + 10, enabled: true });
        store.storeAuthenticate(facts('R1'), T0 + 20);
        expect(store.getEnrollment('R1')!.removedAt).toBeUndefined();
        expect(store.markRemoved('NOPE', T0)).toBe(false);
      });
    });

    describe('periodic inventory', () => {
      it('lists enabled enrollments due by their last cycle (none yet: their enrollment), pending or not', () => {
        enrolled(store, 'I1'); // enrolled T0 + 1000
        enrolled(store, 'I2');
        enrolled(store, 'OFF');
        store.disable('OFF', T0 + 1000);
        const ids = (before: number) => store.listInventoryDue(before).map((e) => e.id).sort();
        expect(ids(T0 + 999)).toEqual([]);
        expect(ids(T0 + 1000)).toEqual(['I1', 'I2']);
        store.markInventoryQueued('I1', 'INV-1', T0 + 2000);
        expect(store.getEnrollment('I1')).toMatchObject({ inventoryPending: 'INV-1', inventoryLastQueuedAt: T0 + 2000 });
        expect(ids(T0 + 1999)).toEqual(['I2']);
        // Still pending at its next slot: listed (the scheduler pushes it again, queues nothing).
        expect(ids(T0 + 2000)).toEqual(['I1', 'I2']);
        store.markInventoryQueued('I1', 'INV-1', T0 + 3000);
        expect(ids(T0 + 2999)).toEqual(['I2']);
        expect(store.clearInventoryPending('I1', 'OTHER')).toBe(false);
        expect(store.clearInventoryPending('I1', 'INV-1')).toBe(true);
        expect(store.getEnrollment('I1')).toMatchObject({ inventoryPending: undefined, inventoryLastQueuedAt: T0 + 3000 });
        expect(store.clearInventoryPending('NOPE', 'INV-1')).toBe(false);
      });
    });

    describe('events', () => {
      const ev = (at: number, type: string, udid?: string) => ({ at, type, udid, from: 'device', to: 'mdm', summary: type });

      it('gives consecutive ids and filters by cursor, time, type prefix and device', () => {
        const a = store.appendEvent(ev(T0, 'mdm.checkin', 'D1'));
        const b = store.appendEvent(ev(T0 + 10, 'mdm.command.queued', 'D1'));
        const c = store.appendEvent(ev(T0 + 20, 'mdm.command.delivered', 'D2'));
        store.appendEvent(ev(T0 + 30, 'mdm.commander', 'D2'));
        expect(b.id).toBe(a.id + 1);
        expect(c.id).toBe(a.id + 2);
        expect(store.queryEvents().map((e) => e.type)).toEqual(['mdm.checkin', 'mdm.command.queued', 'mdm.command.delivered', 'mdm.commander']);
        expect(store.queryEvents({ afterId: b.id }).map((e) => e.id)).toEqual([c.id, c.id + 1]);
        expect(store.queryEvents({ since: T0 + 10, until: T0 + 20 }).map((e) => e.id)).toEqual([b.id, c.id]);
        expect(store.queryEvents({ types: ['mdm.command'] }).map((e) => e.type)).toEqual(['mdm.command.queued', 'mdm.command.delivered']);
        expect(store.queryEvents({ types: ['mdm.checkin', 'mdm.commander'] })).toHaveLength(2);
        expect(store.queryEvents({ udid: 'D2' }).map((e) => e.id)).toEqual([c.id, c.id + 1]);
        expect(store.queryEvents({ limit: 1, afterId: a.id })).toEqual([b]);
      });

      it('keeps data and summary as given', () => {
        const e = store.appendEvent({ ...ev(T0, 'x'), data: { n: 1, s: 'two' } });
        expect(store.queryEvents()).toEqual([e]);
        expect(e).toMatchObject({ at: T0, type: 'x', from: 'device', to: 'mdm', summary: 'x', data: { n: 1, s: 'two' } });
      });
    });
  });
}
