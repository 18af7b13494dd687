/**
 * Posture rules as a tailnet policy writes them: parsing (with errors naming the rule) and
 * evaluation, where a node without the attribute fails every rule that names it.
 */
import { evaluatePosture, parseRule, parseRules, PostureRuleError, ruleHolds } from '../../../posture-sim/rules';

describe('parseRule', () => {
  it('reads the seed\'s rule', () => {
    expect(parseRule('kandji:agentInstalled == true')).toEqual({ text: 'kandji:agentInstalled == true', attribute: 'kandji:agentInstalled', op: '==', value: true });
  });

  it('reads false, numbers, single- and double-quoted strings, !=, and no spaces around the operator', () => {
    expect(parseRule('kandji:mdmEnabled != false')).toMatchObject({ op: '!=', value: false });
    expect(parseRule('custom:score==42')).toMatchObject({ attribute: 'custom:score', op: '==', value: 42 });
    expect(parseRule('custom:ratio == -0.5')).toMatchObject({ value: -0.5 });
    expect(parseRule("node:os == 'macos'")).toMatchObject({ attribute: 'node:os', value: 'macos' });
    expect(parseRule('  node:os != "windows"  ')).toMatchObject({ op: '!=', value: 'windows' });
  });

  it('keeps a quoted "true" a string, not a boolean', () => {
    expect(parseRule("custom:flag == 'true'").value).toBe('true');
  });

  it.each([
    ['kandji:agentInstalled = true', /operator must be == or !=/],
    ['node:osVersion >= 14', /operator must be == or !=/],
    ['kandji:agentInstalled', /expected ATTRIBUTE == VALUE/],
    ['agentInstalled == true', /not an attribute key/],
    ['kandji:agentInstalled == True', /booleans are lower case: write true/],
    ['kandji:agentInstalled == yes', /expected true, false, a number or a quoted string/],
    ["node:os == 'mac'os'", /has a ' inside it/],
  ])('refuses %j with a reason naming it', (text, reason) => {
    let caught: unknown;
    try {
      parseRule(text);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(PostureRuleError);
    expect((caught as PostureRuleError).rule).toBe(text);
    expect((caught as Error).message).toContain(JSON.stringify(text));
    expect((caught as Error).message).toMatch(reason);
  });

  it('parseRules names the first wrong rule of a list', () => {
    expect(() => parseRules(['kandji:mdmEnabled == true', 'kandji:agentInstalled == maybe'])).toThrow(/"kandji:agentInstalled == maybe"/);
  });
});

describe('evaluation', () => {
  const installed = parseRule('kandji:agentInstalled == true');
  const notRemoved = parseRule('kandji:agentInstalled != false');

  it('== and != compare with the attribute\'s value and type', () => {
    expect(ruleHolds(installed, { 'kandji:agentInstalled': true })).toBe(true);
    expect(ruleHolds(installed, { 'kandji:agentInstalled': false })).toBe(false);
    expect(ruleHolds(installed, { 'kandji:agentInstalled': 'true' })).toBe(false);
    expect(ruleHolds(notRemoved, { 'kandji:agentInstalled': true })).toBe(true);
    expect(ruleHolds(notRemoved, { 'kandji:agentInstalled': false })).toBe(false);
  });

  it('a node without the attribute fails every rule, != included', () => {
    expect(ruleHolds(installed, {})).toBe(false);
    expect(ruleHolds(notRemoved, {})).toBe(false);
    expect(ruleHolds(parseRule("node:os != 'windows'"), { 'kandji:agentInstalled': true })).toBe(false);
  });

  it('a posture holds when every rule does, and lists the rules that fail', () => {
    const rules = parseRules(['kandji:mdmEnabled == true', 'kandji:agentInstalled == true']);
    expect(evaluatePosture(rules, { 'kandji:mdmEnabled': true, 'kandji:agentInstalled': true })).toEqual({ allowed: true, failing: [] });
    expect(evaluatePosture(rules, { 'kandji:mdmEnabled': true, 'kandji:agentInstalled': false })).toEqual({ allowed: false, failing: ['kandji:agentInstalled == true'] });
    expect(evaluatePosture(rules, {})).toEqual({ allowed: false, failing: ['kandji:mdmEnabled == true', 'kandji:agentInstalled == true'] });
  });

  it('no rules: every node is allowed', () => {
    expect(evaluatePosture([], {})).toEqual({ allowed: true, failing: [] });
  });
});
