import { ProblemError } from '../../../protocol/problem';
import { agentPolicyToJson, DEFAULT_AGENT_POLICY, resolveAgentPolicy } from '../../../server/policy/settings';

const DAY = 86_400_000;

function fieldOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (error) {
    if (error instanceof ProblemError) return error.problem.field;
    throw error;
  }
  throw new Error('did not throw');
}

describe('agent policy settings', () => {
  it('defaults', () => {
    expect(resolveAgentPolicy(undefined)).toEqual(DEFAULT_AGENT_POLICY);
    expect(agentPolicyToJson(DEFAULT_AGENT_POLICY)).toEqual({ installOnEnrollment: true, reinstall: true, mdmWindow: '7d', agentWindow: '7d', retryInterval: '1d', sweepInterval: '1h', inventoryInterval: '1d', missingAfter: '30d' });
  });

  it('takes ms, compact and ISO durations; false or 0 turns the inventory off', () => {
    const s = resolveAgentPolicy({ mdmWindow: 3 * DAY, agentWindow: '36h', retryInterval: 'PT6H', sweepInterval: '15m', inventoryInterval: false });
    expect(s).toMatchObject({ mdmWindow: 3 * DAY, agentWindow: 36 * 3_600_000, retryInterval: 6 * 3_600_000, sweepInterval: 15 * 60_000, inventoryInterval: 0 });
    expect(resolveAgentPolicy({ inventoryInterval: 0 }).inventoryInterval).toBe(0);
    expect(agentPolicyToJson(s)).toMatchObject({ agentWindow: '1d12h', inventoryInterval: false });
  });

  it('applies a patch onto a base and leaves the base alone', () => {
    const base = resolveAgentPolicy({ agentWindow: '2d' });
    const next = resolveAgentPolicy({ reinstall: false }, base);
    expect(next).toMatchObject({ agentWindow: 2 * DAY, reinstall: false });
    expect(base.reinstall).toBe(true);
  });

  it('names the field at fault, with a prefix for options', () => {
    expect(fieldOf(() => resolveAgentPolicy({ agentWindow: 'soon' }))).toBe('agentWindow');
    expect(fieldOf(() => resolveAgentPolicy({ agentWindow: 'soon' }, undefined, 'agentPolicy.'))).toBe('agentPolicy.agentWindow');
    expect(fieldOf(() => resolveAgentPolicy({ nope: 1 }))).toBe('nope');
    expect(fieldOf(() => resolveAgentPolicy({ reinstall: 1 }))).toBe('reinstall');
    expect(fieldOf(() => resolveAgentPolicy({ mdmWindow: 0 }))).toBe('mdmWindow');
    expect(fieldOf(() => resolveAgentPolicy({ sweepInterval: 999 }))).toBe('sweepInterval');
    expect(fieldOf(() => resolveAgentPolicy({ inventoryInterval: '1ms' }))).toBe('inventoryInterval');
    expect(fieldOf(() => resolveAgentPolicy({ retryInterval: { d: 1 } }))).toBe('retryInterval');
    expect(fieldOf(() => resolveAgentPolicy('7d'))).toBeUndefined();
  });
});
