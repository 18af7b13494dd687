/**
 * The envelopes around Apple's schemas: a command is {CommandUUID, Command: {RequestType, …}}
 * and a command response carries identity, Status, CommandUUID and ErrorChain beside the
 * command's own response keys. Apple's YAML describes only the inner parts, so these rules
 * come from the MDM protocol reference and live here as code.
 */
import { isPlistDict, type PlistDict, type PlistValue } from '../plist/types';
import { commandIndexRow, commandSchema } from './registry';
import { normalizeContext, resolveSchema, type NormalizedContext, type RNode } from './resolve';
import type { KeyRule, ValidationContext, ValidationResult } from './types';
import { Issues, plistTypeOf, walkDict, walkValue } from './validate';

/** A hand-written rule as a resolved node: applicable everywhere it is used. */
function fixed(rule: KeyRule, applicable = true, reason?: string): RNode {
  const node: RNode = { rule, applicable, required: rule.presence === 'required', requiredFields: [] };
  if (reason !== undefined) node.reason = reason;
  if (rule.fields) {
    node.fields = new Map();
    for (const f of rule.fields) {
      const child = fixed(f);
      node.fields.set(f.key, child);
      if (child.required) node.requiredFields.push(child);
    }
  }
  if (rule.item) node.item = fixed(rule.item);
  return node;
}

const str = (key: string, presence: KeyRule['presence'] = 'optional'): KeyRule => ({ key, type: 'string', presence });

const REQUEST_TYPE = new Map([['RequestType', fixed(str('RequestType', 'required'))]]);
const COMMAND_ENVELOPE: KeyRule = {
  key: 'command',
  type: 'dictionary',
  presence: 'required',
  fields: [str('CommandUUID', 'required'), { key: 'Command', type: 'dictionary', presence: 'required' }],
};
const COMMAND_ENVELOPE_NODE = fixed(COMMAND_ENVELOPE);

export function validateCommandEnvelope(command: PlistDict, ctx?: ValidationContext): ValidationResult {
  const n = normalizeContext(ctx);
  const body = command['Command'];
  const rt = isPlistDict(body) ? body['RequestType'] : undefined;
  const out = new Issues(typeof rt === 'string' ? rt : 'Command', n);
  // The outer dictionary; Command's contents are checked below against the command's schema.
  for (const k of Object.keys(command)) {
    const node = COMMAND_ENVELOPE_NODE.fields?.get(k);
    if (!node) out.warn(k, 'unknown-key', `key ${k} is not part of a command envelope`);
    else if (k !== 'Command') walkValue(command[k] as PlistValue, node, k, out);
  }
  for (const r of COMMAND_ENVELOPE_NODE.requiredFields) {
    if (!Object.hasOwn(command, r.rule.key)) {
      out.error(r.rule.key, 'missing', `key ${r.rule.key} is required (type <${r.rule.type}>) in every command`, `<${r.rule.type}>`);
    }
  }
  if (body === undefined) return out.result();
  if (!isPlistDict(body)) {
    out.error('Command', 'type', `key Command must be <dictionary>, got ${plistTypeOf(body)}`, '<dictionary>');
    return out.result();
  }
  if (rt === undefined) {
    out.error('Command.RequestType', 'missing', 'key Command.RequestType is required (type <string>)', '<string>');
    return out.result();
  }
  if (typeof rt !== 'string') {
    out.error('Command.RequestType', 'type', `key Command.RequestType must be <string>, got ${plistTypeOf(rt)}`, '<string>');
    return out.result();
  }
  const schema = commandSchema(rt);
  if (!schema) {
    out.error('Command.RequestType', 'unknown-message', `unknown RequestType '${rt}'`, 'a RequestType from commands-index.tsv');
    return out.result();
  }
  const resolved = resolveSchema(schema, 'payload', n);
  if (!resolved) return out.result();
  if (!resolved.supported) {
    out.error('Command.RequestType', 'unsupported', `${rt} is not supported on ${out.whereAny}: ${resolved.unsupportedReason}`, supportSummary(rt));
  }
  walkDict(body, resolved.node, 'Command', out, true, REQUEST_TYPE);
  return out.result();
}

/** "macOS 10.13.6+, iOS n/a" for an `unsupported` issue's expected field. */
function supportSummary(requestType: string): string | undefined {
  const os = commandSchema(requestType)?.payload.supportedOS;
  if (!os) return undefined;
  const parts: string[] = [];
  for (const [p, s] of Object.entries(os)) {
    if (!s || s.introduced === 'n/a') continue;
    parts.push(`${p}${s.introduced ? ` ${s.introduced}+` : ''}${s.removed ? ` (removed ${s.removed})` : ''}`);
  }
  return parts.length > 0 ? `supported on ${parts.join(', ')}` : 'not supported on any platform';
}

export const STATUSES = ['Acknowledged', 'Error', 'CommandFormatError', 'Idle', 'NotNow'] as const;
const ERROR_STATUSES = new Set(['Error', 'CommandFormatError']);

const ERROR_CHAIN: KeyRule = {
  key: 'ErrorChain',
  type: 'array',
  presence: 'optional',
  item: {
    key: 'ErrorChainItem',
    type: 'dictionary',
    presence: 'required',
    fields: [
      { key: 'ErrorCode', type: 'integer', presence: 'required' },
      str('ErrorDomain', 'required'),
      str('LocalizedDescription', 'required'),
      str('USEnglishDescription'),
    ],
  },
};

/**
 * The envelope keys for one (channel, enrollment, error-or-not) combination. Presence of
 * Status/identity/CommandUUID is checked by hand because it depends on Status.
 */
const overlays = new Map<string, Map<string, RNode>>();

function envelopeOverlay(ctx: NormalizedContext, isError: boolean): Map<string, RNode> {
  const key = `${ctx.channel}|${ctx.enrollment}|${isError ? 1 : 0}`;
  let m = overlays.get(key);
  if (m) return m;
  const userOnly: [boolean, string?] = ctx.channel === 'user' ? [true] : [false, 'only sent on the user channel'];
  m = new Map<string, RNode>([
    ['Status', fixed({ ...str('Status', 'required'), rangelist: STATUSES })],
    ['CommandUUID', fixed(str('CommandUUID'))],
    // Real devices echo the RequestType (see the NanoMDM DeviceInformation capture).
    ['RequestType', fixed(str('RequestType'))],
    ['UDID', ctx.enrollment === 'user' ? fixed(str('UDID'), false, 'not allowed under user enrollment') : fixed(str('UDID'))],
    ['EnrollmentID', fixed(str('EnrollmentID'))],
    ['ErrorChain', isError ? fixed(ERROR_CHAIN) : fixed(ERROR_CHAIN, false, 'only sent with Status Error or CommandFormatError')],
    ['UserID', fixed(str('UserID'), ...userOnly)],
    ['UserShortName', fixed(str('UserShortName'), ...userOnly)],
    ['UserLongName', fixed(str('UserLongName'), ...userOnly)],
    ['EnrollmentUserID', fixed(str('EnrollmentUserID'), ...userOnly)],
    ['NotOnConsole', fixed({ key: 'NotOnConsole', type: 'boolean', presence: 'optional' }, ...userOnly)],
  ]);
  overlays.set(key, m);
  return m;
}

/** Keys we cannot check (unknown command): accept anything beside the envelope. */
const FREE_FORM: RNode = {
  rule: { key: 'response', type: 'dictionary', presence: 'required' },
  applicable: true,
  required: false,
  requiredFields: [],
  anyEntry: fixed({ key: 'ANY', type: 'any', presence: 'optional' }),
};
/** A command that has no response keys: anything beside the envelope is unexpected. */
const NO_RESPONSE_KEYS: RNode = {
  rule: FREE_FORM.rule,
  applicable: true,
  required: false,
  requiredFields: [],
  fields: new Map(),
};

export function validateResponseEnvelope(
  requestType: string | undefined,
  response: PlistDict,
  ctx?: ValidationContext,
): ValidationResult {
  const n = normalizeContext(ctx);
  const echoed = response['RequestType'];
  const rt = requestType ?? (typeof echoed === 'string' ? echoed : undefined);
  const out = new Issues(`${rt ?? 'Command'} response`, n);

  const status = response['Status'];
  const validStatus = typeof status === 'string' && (STATUSES as readonly string[]).includes(status) ? status : undefined;
  if (status === undefined) {
    out.error('Status', 'missing', `key Status is required (one of ${STATUSES.join(', ')})`, `one of ${STATUSES.join(', ')}`);
  }
  const identity = n.enrollment === 'user' ? 'EnrollmentID' : 'UDID';
  if (!Object.hasOwn(response, 'UDID') && !Object.hasOwn(response, 'EnrollmentID')) {
    out.error(identity, 'missing', `key ${identity} is required (type <string>) on ${out.where}`, '<string>');
  }
  if (validStatus !== 'Idle' && !Object.hasOwn(response, 'CommandUUID')) {
    out.error('CommandUUID', 'missing', `key CommandUUID is required (type <string>) unless Status is Idle`, '<string>');
  }
  const isError = validStatus !== undefined && ERROR_STATUSES.has(validStatus);
  if (isError && !Object.hasOwn(response, 'ErrorChain')) {
    // Apple documents ErrorChain as what explains an error, but devices do not always send it.
    out.warn('ErrorChain', 'missing', `key ErrorChain (array of {ErrorCode, ErrorDomain, LocalizedDescription}) is expected with Status ${validStatus}`);
  }
  if (requestType !== undefined && typeof echoed === 'string' && echoed !== requestType) {
    out.error('RequestType', 'range', `key RequestType is '${echoed}' but the command was ${requestType}`, requestType);
  }

  let node = FREE_FORM;
  if (rt !== undefined) {
    const schema = commandSchema(rt);
    if (!schema) {
      out.warn('RequestType', 'unknown-message', `unknown RequestType '${rt}': response keys not checked`);
    } else if (schema.response) {
      node = resolveSchema(schema, 'response', n)?.node ?? FREE_FORM;
    } else if (schema.fromYaml || !commandIndexRow(rt)?.hasResponseKeys) {
      node = NO_RESPONSE_KEYS;
    }
  }
  // Response keys are only promised with Acknowledged; otherwise they are checked if present.
  walkDict(response, node, '', out, validStatus === 'Acknowledged', envelopeOverlay(n, isError));
  return out.result();
}
