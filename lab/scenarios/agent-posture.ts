/**
 * The agent's absence seen from outside: a posture-sync integration (Tailscale's, simulated by
 * posture-sim) reads Prism every 15 minutes and lets a node in only while
 * `kandji:agentInstalled == true`. Mac 2 loses its agent; the daily MDM inventory tells the
 * server, the next sync turns the attribute false and the rule denies Mac 2; seven days of agent
 * silence later the reinstall rule brings the agent back and the next sync lets Mac 2 in again.
 * Meanwhile the integration's API token is revoked: its next sync gets 401 and it pauses for
 * 24 hours; six hours later the admin gives it a new token, which resumes it at once.
 */
import type { EventRecord } from '../../server/storage/types';
import type { Scenario, ScenarioContext } from '../scenario';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const SYNC_INTERVAL = 15 * MIN;

export const POSTURE_RULE = 'kandji:agentInstalled == true';
const TOKEN_NAME = 'tailscale posture sync';
const ROTATED_TOKEN_NAME = 'tailscale posture sync (rotated)';

const iso = (t: number) => new Date(t).toISOString();
const dataOf = <T>(e: EventRecord) => (e.data ?? {}) as T;

interface AttributeData {
  attribute: string;
  old: unknown;
  new: unknown;
}

function forMac(ctx: ScenarioContext, n: number, type: string): EventRecord[] {
  const udid = ctx.mac(n).udid;
  return ctx.events(type).filter((e) => e.udid === udid);
}

function agentInstalledChanges(ctx: ScenarioContext, n: number): EventRecord[] {
  return forMac(ctx, n, 'posture.attribute').filter((e) => dataOf<AttributeData>(e).attribute === 'kandji:agentInstalled');
}

function accessOf(ctx: ScenarioContext, n: number): EventRecord[] {
  return forMac(ctx, n, 'posture.access');
}

const allowed = (e: EventRecord) => dataOf<{ allowed: boolean }>(e).allowed;

export const agentPosture: Scenario = {
  name: 'agent-posture',
  title: 'Agent posture: a zero-trust network denies a Mac without the agent',
  description:
    'Three Macs enroll with the agent. A posture-sync integration (as Tailscale\'s) reads Prism every 15 minutes with its own API token and ' +
    `allows a node only while "${POSTURE_RULE}". On day 1 the agent is removed from Mac 2; the next daily MDM inventory (InstalledApplicationList) ` +
    'shows it gone, and the next sync writes kandji:agentInstalled false: Mac 2 is denied. On day 3 the token is revoked: the next sync gets 401 ' +
    'and the integration pauses for 24 hours; six hours later the admin updates it with a new token and it resumes at once. After seven days of ' +
    'agent silence the reinstall rule installs the agent again; the next sync writes true and Mac 2 is allowed again. Macs 1 and 3 are never denied.',
  devices: 3,
  duration: '10d',
  steps: [
    {
      at: 0,
      describe: `the posture integration is created with a Prism-only token and the rule "${POSTURE_RULE}"`,
      async run(ctx) {
        const { token } = ctx.lab.server.apiTokens.create({ name: TOKEN_NAME, permissions: ['prism:device_information'] });
        await ctx.lab.postureSync({ token, rules: [POSTURE_RULE] });
      },
    },
    {
      at: '1d',
      describe: "Mac 2's agent is uninstalled",
      run: (ctx) => ctx.lab.fault(ctx.mac(2).udid, { kind: 'agent-uninstalled' }),
    },
    {
      at: '3d',
      describe: "the integration's API token is revoked",
      async run(ctx) {
        const token = ctx.lab.server.apiTokens.list().find((t) => t.name === TOKEN_NAME && t.revokedAt === null);
        if (!token) throw new Error(`no live API token named "${TOKEN_NAME}"`);
        ctx.lab.server.apiTokens.revoke(token.id);
      },
    },
    {
      at: '3d6h',
      describe: 'the admin issues a new token and updates the integration with it',
      async run(ctx) {
        const sync = ctx.lab.postureIntegrations[0];
        if (!sync) throw new Error('the posture integration was never created');
        const { token } = ctx.lab.server.apiTokens.create({ name: ROTATED_TOKEN_NAME, permissions: ['prism:device_information'] });
        await sync.update({ token });
      },
    },
  ],
  expectations: [
    {
      describe: 'at creation the integration syncs at once: every Mac\'s node gets both attributes and is allowed; the nodes MDM does not know are not',
      check(ctx) {
        const failures: string[] = [];
        const first = ctx.events('posture.sync')[0];
        if (!first || first.at !== ctx.start) return [`no successful sync at creation (${iso(ctx.start)})`];
        if (dataOf<{ trigger: string }>(first).trigger !== 'create') failures.push(`the first sync was triggered by ${dataOf<{ trigger: string }>(first).trigger}, not by the creation`);
        for (const n of [1, 2, 3]) {
          const written = forMac(ctx, n, 'posture.attribute').filter((e) => e.at === ctx.start).map((e) => `${dataOf<AttributeData>(e).attribute}=${String(dataOf<AttributeData>(e).new)}`);
          if (written.sort().join(' ') !== 'kandji:agentInstalled=true kandji:mdmEnabled=true') failures.push(`Mac ${n}: the first sync wrote ${written.join(' ') || 'nothing'}`);
          if (!accessOf(ctx, n).some((e) => e.at === ctx.start && allowed(e))) failures.push(`Mac ${n}: not allowed after the first sync`);
        }
        const sync = ctx.lab.postureIntegrations[0];
        const strangers = sync?.nodes().filter((node) => !ctx.lab.macs.some((m) => node.serialNumbers.some((s) => s.trim().toUpperCase() === m.identity.serialNumber))) ?? [];
        if (strangers.length === 0) failures.push('the network has no node MDM does not know');
        for (const node of strangers) if (node.allowed || Object.keys(node.attributes).length > 0) failures.push(`node ${node.name} (unknown to MDM) has attributes or is allowed`);
        return failures;
      },
    },
    {
      describe: 'the daily MDM inventory reports Mac 2\'s agent gone, and the next sync writes kandji:agentInstalled true → false and denies Mac 2',
      check(ctx) {
        const faultAt = ctx.start + DAY;
        const gone = forMac(ctx, 2, 'agent.gone').find((e) => e.at >= faultAt);
        if (!gone) return ['the server never learned that Mac 2\'s agent is gone (no agent.gone after the fault)'];
        const failures: string[] = [];
        if (gone.at > faultAt + DAY + HOUR) failures.push(`the inventory noticed only at ${iso(gone.at)}, more than a day after the fault`);
        const change = agentInstalledChanges(ctx, 2).find((e) => e.at >= gone.at);
        if (!change) return [...failures, 'no sync wrote kandji:agentInstalled on Mac 2 after the agent was reported gone'];
        const d = dataOf<AttributeData>(change);
        if (d.old !== true || d.new !== false) failures.push(`Mac 2: kandji:agentInstalled went ${String(d.old)} → ${String(d.new)}, not true → false`);
        if (change.at - gone.at > SYNC_INTERVAL) failures.push(`the sync that saw it came ${Math.round((change.at - gone.at) / MIN)} min after the server knew (more than one interval)`);
        const denied = accessOf(ctx, 2).find((e) => e.at === change.at);
        if (!denied || allowed(denied)) failures.push('Mac 2 was not denied by the sync that wrote false');
        else if (!dataOf<{ failing: string[] }>(denied).failing.includes(POSTURE_RULE)) failures.push(`Mac 2 was denied, but not for "${POSTURE_RULE}"`);
        return failures;
      },
    },
    {
      describe: 'the revoked token: the next sync gets 401, the integration pauses and tries nothing until the new token resumes it at once',
      check(ctx) {
        const revokedAt = ctx.events('api.token.revoked')[0]?.at;
        if (revokedAt === undefined) return ['the token was never revoked'];
        const failures: string[] = [];
        const failed = ctx.events('posture.sync.failed').find((e) => e.at >= revokedAt);
        if (!failed) return ['no sync failed after the revocation'];
        if (dataOf<{ error?: { status?: number } }>(failed).error?.status !== 401) failures.push(`the failed sync got ${JSON.stringify(dataOf<{ error?: unknown }>(failed).error)}, not 401`);
        if (failed.at - revokedAt > SYNC_INTERVAL) failures.push(`the first sync after the revocation came ${Math.round((failed.at - revokedAt) / MIN)} min later`);
        const paused = ctx.events('posture.paused').find((e) => e.at === failed.at);
        if (!paused) failures.push('the integration did not pause on the 401');
        else if (dataOf<{ until: number }>(paused).until !== failed.at + DAY) failures.push(`paused until ${iso(dataOf<{ until: number }>(paused).until)}, not for 24 hours`);
        const updated = ctx.events('posture.integration').find((e) => e.at > failed.at && dataOf<{ action: string }>(e).action === 'Update posture integration');
        if (!updated) return [...failures, 'the integration was never updated with a new token'];
        const during = [...ctx.events('posture.sync'), ...ctx.events('posture.sync.failed')].filter((e) => e.at > failed.at && e.at < updated.at);
        if (during.length > 0) failures.push(`${during.length} sync(s) ran while paused, the first at ${iso(during[0]!.at)}`);
        const resumed = ctx.events('posture.resumed').find((e) => e.at >= updated.at);
        if (!resumed || resumed.at !== updated.at) failures.push('the update did not resume the integration at once');
        const next = ctx.events('posture.sync').find((e) => e.at >= updated.at);
        if (!next || next.at !== updated.at || dataOf<{ trigger: string }>(next).trigger !== 'update') failures.push('no successful sync at the instant of the update');
        const after = ctx.events('posture.sync').filter((e) => e.at > updated.at);
        if (after.length === 0 || after[0]!.at !== updated.at + SYNC_INTERVAL) failures.push('the 15-minute schedule did not carry on after the update');
        return failures;
      },
    },
    {
      describe: 'the 7-day rule reinstalls Mac 2\'s agent; the next sync writes kandji:agentInstalled false → true and allows Mac 2 again',
      check(ctx) {
        const fired = forMac(ctx, 2, 'agent.reinstall.fired')[0];
        if (!fired) return ['the reinstall rule never fired for Mac 2'];
        const failures: string[] = [];
        const checkin = forMac(ctx, 2, 'agent.checkin').find((e) => e.at >= fired.at);
        if (!checkin) return ['Mac 2\'s agent did not check in after the reinstall'];
        const change = agentInstalledChanges(ctx, 2).find((e) => e.at >= checkin.at);
        if (!change) return ['no sync wrote kandji:agentInstalled on Mac 2 after its agent came back'];
        const d = dataOf<AttributeData>(change);
        if (d.old !== false || d.new !== true) failures.push(`Mac 2: kandji:agentInstalled went ${String(d.old)} → ${String(d.new)}, not false → true`);
        if (change.at - checkin.at > SYNC_INTERVAL) failures.push(`the sync that saw the agent back came ${Math.round((change.at - checkin.at) / MIN)} min after its check-in`);
        const back = accessOf(ctx, 2).find((e) => e.at === change.at);
        if (!back || !allowed(back)) failures.push('Mac 2 was not allowed again by that sync');
        return failures;
      },
    },
    {
      describe: 'Macs 1 and 3 are never denied; the integration ends active, with every Mac matched',
      check(ctx) {
        const failures: string[] = [];
        for (const n of [1, 3]) {
          const denied = accessOf(ctx, n).filter((e) => !allowed(e));
          if (denied.length > 0) failures.push(`Mac ${n}: denied at ${iso(denied[0]!.at)}`);
        }
        const status = ctx.lab.postureIntegrations[0]?.status();
        if (!status) return [...failures, 'no posture integration'];
        if (status.state !== 'active' || status.error !== null) failures.push(`the integration ends ${status.state}${status.error ? ` with "${status.error.message}"` : ''}`);
        if (status.matched !== ctx.lab.macs.length) failures.push(`it matched ${status.matched} nodes at the end, not ${ctx.lab.macs.length}`);
        return failures;
      },
    },
  ],
};
