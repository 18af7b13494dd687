/**
 * The story the vendor's documentation tells: on enrollment the agent is one of the first
 * things installed; when a Mac keeps checking in with MDM but its agent has been silent for
 * seven days, MDM sends InstallEnterpriseApplication again and the agent comes back.
 */
import type { EventRecord } from '../../server/storage/types';
import type { Scenario, ScenarioContext } from '../scenario';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;

const requestTypeOf = (e: EventRecord) => (e.data as { requestType?: string } | undefined)?.requestType;
const statusOf = (e: EventRecord) => (e.data as { status?: string } | undefined)?.status;
const iso = (t: number) => new Date(t).toISOString();

function forMac(ctx: ScenarioContext, n: number, type: string): EventRecord[] {
  const udid = ctx.mac(n).udid;
  return ctx.events(type).filter((e) => e.udid === udid);
}

/** The agent check-ins of Mac n before a time. */
function lastAgentCheckinBefore(ctx: ScenarioContext, n: number, t: number): number | undefined {
  return forMac(ctx, n, 'agent.checkin')
    .filter((e) => e.at <= t)
    .at(-1)?.at;
}

export const agentReinstall: Scenario = {
  name: 'agent-reinstall',
  title: 'The 7-day agent-reinstall rule',
  description:
    'Three Macs enroll and get the agent from InstallEnterpriseApplication. On day 2 the agent is removed from Mac 2. ' +
    'Mac 2 keeps checking in with MDM (daily inventory) but its agent is silent; after seven days of silence the rule ' +
    'queues InstallEnterpriseApplication for the agent and pushes; Mac 2 installs it and its agent checks in again. ' +
    'Macs 1 and 3 never see a reinstall.',
  devices: 3,
  duration: '10d',
  steps: [
    {
      at: '2d',
      describe: "Mac 2's agent is uninstalled",
      run: (ctx) => ctx.lab.fault(ctx.mac(2).udid, { kind: 'agent-uninstalled' }),
    },
  ],
  expectations: [
    {
      describe: 'Macs 1–3 enroll and install the agent from InstallEnterpriseApplication, and each agent checks in',
      check(ctx) {
        const failures: string[] = [];
        for (const n of [1, 2, 3]) {
          const acked = forMac(ctx, n, 'mdm.command.result').find((e) => requestTypeOf(e) === 'InstallEnterpriseApplication' && statusOf(e) === 'Acknowledged');
          if (!acked || acked.at > ctx.start + HOUR) failures.push(`Mac ${n}: no Acknowledged InstallEnterpriseApplication within an hour of enrollment`);
          const checkin = forMac(ctx, n, 'agent.checkin')[0];
          if (!checkin || checkin.at > ctx.start + HOUR) failures.push(`Mac ${n}: its agent did not check in within an hour of enrollment`);
        }
        return failures;
      },
    },
    {
      describe: 'nothing fires before seven days of agent silence',
      check(ctx) {
        const faultAt = ctx.start + 2 * DAY;
        const lastBefore = lastAgentCheckinBefore(ctx, 2, faultAt);
        if (lastBefore === undefined) return ['Mac 2 never checked in with its agent before day 2'];
        const early = ctx.events('agent.reinstall.fired').filter((e) => e.at < lastBefore + WEEK);
        return early.map((e) => `${ctx.labelOf(e.udid!)}: reinstall fired at ${iso(e.at)}, before seven days of silence (${iso(lastBefore + WEEK)})`);
      },
    },
    {
      describe: 'the rule fires for Mac 2 alone',
      check(ctx) {
        const fired = ctx.events('agent.reinstall.fired');
        const failures = fired.filter((e) => e.udid !== ctx.mac(2).udid).map((e) => `${ctx.labelOf(e.udid!)}: the rule fired at ${iso(e.at)}`);
        if (!fired.some((e) => e.udid === ctx.mac(2).udid)) failures.push('Mac 2: the rule never fired');
        return failures;
      },
    },
    {
      describe: "Mac 2 is pushed, installs the agent again, and its agent checks in again",
      check(ctx) {
        const fired = forMac(ctx, 2, 'agent.reinstall.fired')[0];
        if (!fired) return ['Mac 2: the rule never fired'];
        const failures: string[] = [];
        if (!forMac(ctx, 2, 'mdm.push.sent').some((e) => e.at >= fired.at)) failures.push('Mac 2: no push after the rule fired');
        const installed = forMac(ctx, 2, 'mdm.command.result').find((e) => e.at >= fired.at && requestTypeOf(e) === 'InstallEnterpriseApplication' && statusOf(e) === 'Acknowledged');
        if (!installed) failures.push('Mac 2: InstallEnterpriseApplication was not acknowledged after the rule fired');
        if (!forMac(ctx, 2, 'agent.checkin').some((e) => e.at >= fired.at)) failures.push("Mac 2: its agent did not check in after the reinstall");
        return failures;
      },
    },
    {
      describe: 'Macs 1 and 3 see no reinstall',
      check(ctx) {
        const failures: string[] = [];
        for (const n of [1, 3]) {
          const installs = forMac(ctx, n, 'mdm.command.delivered').filter((e) => requestTypeOf(e) === 'InstallEnterpriseApplication');
          if (installs.length !== 1) failures.push(`Mac ${n}: InstallEnterpriseApplication was delivered ${installs.length} times (once, at enrollment, expected)`);
        }
        return failures;
      },
    },
  ],
};
