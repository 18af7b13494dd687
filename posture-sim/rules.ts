/**
 * Posture rules as a tailnet policy writes them: `"kandji:agentInstalled == true"`,
 * `"node:os != 'windows'"`. One rule is an attribute, `==` or `!=`, and a literal (true, false,
 * a number, or a string in single or double quotes). A node holds a posture when it satisfies
 * every rule of it.
 *
 * A node without the attribute fails every rule that names it, `!=` included: Tailscale's
 * posture conditions are false for an unset attribute, which is what makes
 * `kandji:agentInstalled == true` deny a node the integration never matched.
 */

export type AttributeValue = boolean | number | string;

export interface PostureRule {
  /** The rule as written. */
  text: string;
  attribute: string;
  op: '==' | '!=';
  value: AttributeValue;
}

export class PostureRuleError extends Error {
  constructor(
    readonly rule: string,
    reason: string,
  ) {
    super(`posture rule ${JSON.stringify(rule)}: ${reason}`);
    this.name = 'PostureRuleError';
  }
}

/** `namespace:name`, as Tailscale spells attribute keys (`node:os`, `kandji:agentInstalled`, `custom:tier`). */
const ATTRIBUTE = /^[A-Za-z][A-Za-z0-9_-]*:[A-Za-z][A-Za-z0-9_.-]*$/;
const NUMBER = /^-?(?:0|[1-9]\d*)(?:\.\d+)?$/;

function parseLiteral(rule: string, text: string): AttributeValue {
  if (text === 'true') return true;
  if (text === 'false') return false;
  if (NUMBER.test(text)) return Number(text);
  const quote = text[0];
  if ((quote === "'" || quote === '"') && text.length >= 2 && text.endsWith(quote)) {
    const inner = text.slice(1, -1);
    if (inner.includes(quote)) throw new PostureRuleError(rule, `the string ${text} has a ${quote} inside it`);
    return inner;
  }
  if (text === 'True' || text === 'False' || text === 'TRUE' || text === 'FALSE') {
    throw new PostureRuleError(rule, `booleans are lower case: write ${text.toLowerCase()}`);
  }
  throw new PostureRuleError(rule, `expected true, false, a number or a quoted string after the operator, found ${text}`);
}

export function parseRule(text: string): PostureRule {
  if (typeof text !== 'string') throw new PostureRuleError(String(text), 'a rule is a string such as "kandji:agentInstalled == true"');
  const m = /^\s*(\S+?)\s*(==|!=)\s*(.+?)\s*$/.exec(text);
  if (!m) {
    if (/\s(=|<>|<=|>=|<|>|IN|NOT IN|IS SET|NOT SET)\s?/.test(text)) {
      throw new PostureRuleError(text, 'the operator must be == or != (this simulator compares for equality only)');
    }
    throw new PostureRuleError(text, 'expected ATTRIBUTE == VALUE or ATTRIBUTE != VALUE, e.g. "kandji:agentInstalled == true"');
  }
  const [, attribute, op, literal] = m as unknown as [string, string, '==' | '!=', string];
  if (!ATTRIBUTE.test(attribute)) throw new PostureRuleError(text, `${attribute} is not an attribute key (namespace:name, e.g. kandji:agentInstalled)`);
  return { text, attribute, op, value: parseLiteral(text, literal) };
}

/** Parses every rule, naming the first one that is wrong. */
export function parseRules(texts: readonly string[]): PostureRule[] {
  return texts.map(parseRule);
}

/** Whether a node's attributes satisfy one rule (an unset attribute fails it, whatever the operator). */
export function ruleHolds(rule: PostureRule, attributes: Readonly<Record<string, AttributeValue>>): boolean {
  if (!Object.prototype.hasOwnProperty.call(attributes, rule.attribute)) return false;
  const equal = attributes[rule.attribute] === rule.value;
  return rule.op === '==' ? equal : !equal;
}

export interface PostureDecision {
  allowed: boolean;
  /** The rules the node fails, as written. */
  failing: string[];
}

/** A node holds the posture when it satisfies every rule. */
export function evaluatePosture(rules: readonly PostureRule[], attributes: Readonly<Record<string, AttributeValue>>): PostureDecision {
  const failing = rules.filter((r) => !ruleHolds(r, attributes)).map((r) => r.text);
  return { allowed: failing.length === 0, failing };
}
