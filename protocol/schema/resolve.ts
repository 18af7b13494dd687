/**
 * Specialises a compiled rule tree to one context: for every key, is it applicable, is it
 * required, and if not applicable, why. The rules this implements are listed at the top of
 * index.ts. Results are cached per (schema, platform, version bucket, channel, enrollment,
 * Shared iPad), so a check-in pays for resolution once per kind of device, not per message.
 */
import {
  PLATFORMS,
  type CompiledSchema,
  type KeyRule,
  type Mode,
  type Platform,
  type Support,
  type ValidationContext,
} from './types';
import {
  compareVersions,
  formatVersion,
  hasPatch,
  isZero,
  majorMinor,
  parseVersion,
  type Version,
} from './version';

/** A context with defaults filled in and the version parsed. */
export interface NormalizedContext {
  platform?: Platform;
  version?: Version;
  /** The version as given, for messages. */
  versionText?: string;
  channel: 'device' | 'user';
  enrollment: 'device' | 'user';
  sharedIPad: boolean;
  strict: boolean;
}

/** A key specialised to one context. */
export interface RNode {
  rule: KeyRule;
  applicable: boolean;
  required: boolean;
  /** Why the key is not applicable (only set when it is not). */
  reason?: string;
  fields?: Map<string, RNode>;
  requiredFields: RNode[];
  anyEntry?: RNode;
  item?: RNode;
  values?: Map<string, RNode>;
}

export interface Resolved {
  supported: boolean;
  /** Why the message/command itself is not supported in this context. */
  unsupportedReason?: string;
  /**
   * When unsupported, a lenient tree (every key applicable, none required) so the body still
   * gets type/range/unknown-key checks without a not-applicable issue on every key.
   */
  node: RNode;
}

const versionMemo = new Map<string, Version | undefined>();

export function normalizeContext(ctx: ValidationContext | undefined): NormalizedContext {
  const c = ctx ?? {};
  let version: Version | undefined;
  if (c.osVersion !== undefined) {
    if (versionMemo.has(c.osVersion)) version = versionMemo.get(c.osVersion);
    else {
      version = parseVersion(c.osVersion);
      if (versionMemo.size > 1024) versionMemo.clear();
      versionMemo.set(c.osVersion, version);
    }
  }
  const n: NormalizedContext = {
    channel: c.channel ?? 'device',
    enrollment: c.enrollment ?? 'device',
    sharedIPad: c.sharedIPad ?? false,
    strict: c.strict ?? false,
  };
  if (c.platform) n.platform = c.platform;
  if (version) {
    n.version = version;
    n.versionText = c.osVersion;
  }
  return n;
}

/**
 * "macOS 10.12.6 device channel, user enrollment" — the context, as messages name it. Without
 * a platform, "every platform, …" suits what is required and "any platform, …" what is not
 * applicable.
 */
export function describeContext(ctx: NormalizedContext, quantifier: 'every' | 'any' = 'every'): string {
  const where = ctx.platform
    ? ctx.versionText
      ? `${ctx.platform} ${ctx.versionText}`
      : ctx.platform
    : `${quantifier} platform,`;
  let s = `${where} ${ctx.channel} channel`;
  if (ctx.enrollment === 'user') s += ', user enrollment';
  if (ctx.sharedIPad) s += ', Shared iPad';
  return s;
}

/** A key's effective support on one platform, after inheriting from its ancestors. */
interface Effective {
  na: boolean;
  /** `removed: '0'`: Apple's way of saying the key is gone on every version. */
  gone: boolean;
  introduced?: Version;
  removed?: Version;
  device: boolean;
  user: boolean;
  ue: Mode;
  sp: Mode;
  spDevice?: boolean;
  spUser?: boolean;
}

const NOT_LISTED: Effective = {
  na: true,
  gone: false,
  device: true,
  user: true,
  ue: 'allowed',
  sp: 'allowed',
};

const ANYWHERE: Effective = { ...NOT_LISTED, na: false };

/** A child can narrow what its parent allows, never widen it: forbidden beats required beats the rest. */
function combineMode(parent: Mode, own: Mode | undefined): Mode {
  if (parent === 'forbidden' || own === 'forbidden') return 'forbidden';
  if (parent === 'required' || own === 'required') return 'required';
  return own ?? parent;
}

function combineFlag(parent: boolean | undefined, own: boolean | undefined): boolean | undefined {
  if (parent === false || own === false) return false;
  return own ?? parent;
}

function inherit(parent: Effective, own: Support | undefined): Effective {
  if (!own) return parent;
  const e: Effective = { ...parent };
  if (own.introduced === 'n/a') e.na = true;
  else {
    const v = parseVersion(own.introduced);
    // A child cannot exist before its parent: keep the later of the two.
    if (v && (!e.introduced || compareVersions(v, e.introduced) > 0)) e.introduced = v;
  }
  const r = parseVersion(own.removed);
  if (r) {
    if (isZero(r)) e.gone = true;
    else if (!e.removed || compareVersions(r, e.removed) < 0) e.removed = r;
  }
  e.device = parent.device && own.devicechannel !== false;
  e.user = parent.user && own.userchannel !== false;
  e.ue = combineMode(parent.ue, own.userenrollment);
  e.sp = combineMode(parent.sp, own.sharedipad?.mode);
  const spDevice = combineFlag(parent.spDevice, own.sharedipad?.devicechannel);
  const spUser = combineFlag(parent.spUser, own.sharedipad?.userchannel);
  if (spDevice === undefined) delete e.spDevice;
  else e.spDevice = spDevice;
  if (spUser === undefined) delete e.spUser;
  else e.spUser = spUser;
  return e;
}

/** Undefined when applicable; otherwise the reason, phrased to follow "not applicable: ". */
function check(e: Effective, p: Platform, ctx: NormalizedContext, v: Version | undefined): string | undefined {
  if (e.na) return `not available on ${p}`;
  if (e.gone) return `no longer used on ${p} (removed)`;
  if (v) {
    if (e.introduced && compareVersions(v, e.introduced) < 0) {
      return `introduced in ${p} ${formatVersion(e.introduced)}`;
    }
    if (e.removed && compareVersions(v, e.removed) >= 0) {
      return `removed in ${p} ${formatVersion(e.removed)}`;
    }
  }
  const shared = ctx.sharedIPad;
  const onChannel =
    ctx.channel === 'user'
      ? e.user && !(shared && e.spUser === false)
      : e.device && !(shared && e.spDevice === false);
  if (!onChannel) return `not used on the ${ctx.channel} channel on ${p}${shared ? ' Shared iPad' : ''}`;
  if (ctx.enrollment === 'user') {
    if (e.ue === 'forbidden') return `not allowed under user enrollment on ${p}`;
  } else if (e.ue === 'required') {
    return `only used under user enrollment on ${p}`;
  }
  if (shared) {
    if (e.sp === 'forbidden') return `not allowed on Shared iPad`;
  } else if (e.sp === 'required') {
    return `only used on Shared iPad`;
  }
  return undefined;
}

function summarize(reasons: (string | undefined)[], platforms: readonly Platform[]): string {
  const distinct = [...new Set(reasons)];
  if (distinct.length === 1 && distinct[0] !== undefined) return distinct[0];
  return platforms.map((p, i) => `${p}: ${reasons[i]}`).join('; ');
}

function resolveNode(
  rule: KeyRule,
  parents: readonly Effective[],
  platforms: readonly Platform[],
  ctx: NormalizedContext,
  v: Version | undefined,
  lenient: boolean,
): RNode {
  const effs = parents.map((parent, i) => inherit(parent, rule.supportedOS?.[platforms[i] as Platform]));
  const node: RNode = { rule, applicable: true, required: false, requiredFields: [] };
  if (!lenient) {
    const reasons = effs.map((e, i) => check(e, platforms[i] as Platform, ctx, v));
    const ok = reasons.filter((r) => r === undefined).length;
    // Unknown platform: applicable if it is somewhere, required only if it is everywhere.
    node.applicable = ok > 0;
    node.required = rule.presence === 'required' && ok === reasons.length;
    if (!node.applicable) node.reason = summarize(reasons, platforms);
  }
  const child = (r: KeyRule): RNode => resolveNode(r, effs, platforms, ctx, v, lenient);
  if (rule.fields) {
    node.fields = new Map();
    for (const f of rule.fields) {
      const rn = child(f);
      node.fields.set(f.key, rn);
      if (rn.required) node.requiredFields.push(rn);
    }
  }
  if (rule.anyEntry) node.anyEntry = child(rule.anyEntry);
  if (rule.item) node.item = child(rule.item);
  if (rule.values) {
    node.values = new Map();
    for (const val of rule.values) node.values.set(val.key, child(val));
  }
  return node;
}

function resolveRoot(rule: KeyRule, ctx: NormalizedContext, v: Version | undefined): Resolved {
  const os = rule.supportedOS ?? {};
  // The payload itself: a platform it does not list is a platform it does not exist on.
  const rootEff = (p: Platform): Effective => inherit(os[p] ? ANYWHERE : NOT_LISTED, os[p]);
  if (ctx.platform) {
    const e = rootEff(ctx.platform);
    const why = check(e, ctx.platform, ctx, v);
    if (why === undefined) {
      return { supported: true, node: resolveNode({ ...rule, supportedOS: {} }, [e], [ctx.platform], ctx, v, false) };
    }
    return { supported: false, unsupportedReason: why, node: resolveNode(rule, [ANYWHERE], [ctx.platform], ctx, v, true) };
  }
  const platforms: Platform[] = [];
  const effs: Effective[] = [];
  const reasons: (string | undefined)[] = [];
  for (const p of PLATFORMS) {
    const e = rootEff(p);
    const why = check(e, p, ctx, undefined);
    reasons.push(why);
    if (why === undefined) {
      platforms.push(p);
      effs.push(e);
    }
  }
  if (platforms.length === 0) {
    return {
      supported: false,
      unsupportedReason: summarize(reasons, PLATFORMS),
      node: resolveNode(rule, [ANYWHERE], ['macOS'], ctx, undefined, true),
    };
  }
  return { supported: true, node: resolveNode({ ...rule, supportedOS: {} }, effs, platforms, ctx, undefined, false) };
}

const caches = new WeakMap<KeyRule, Map<string, Resolved>>();
const MAX_CONTEXTS_PER_SCHEMA = 256;

/**
 * Resolves `schema.payload` or `schema.response` for a context. The version only matters
 * down to major.minor unless the schema has a bound with a patch component in that
 * major.minor (e.g. 10.13.6), in which case the full version keys the cache.
 */
export function resolveSchema(
  schema: CompiledSchema,
  which: 'payload' | 'response',
  ctx: NormalizedContext,
): Resolved | undefined {
  const rule = which === 'payload' ? schema.payload : schema.response;
  if (!rule) return undefined;
  let v: Version | undefined;
  let vkey = '-';
  if (ctx.platform && ctx.version) {
    const mm = majorMinor(ctx.version);
    if (schema.patchSensitive[ctx.platform]?.has(mm) && hasPatch(ctx.version)) {
      v = ctx.version;
      vkey = formatVersion(v);
    } else {
      v = [ctx.version[0] ?? 0, ctx.version[1] ?? 0];
      vkey = mm;
    }
  }
  const key = `${ctx.platform ?? '*'}|${vkey}|${ctx.channel}|${ctx.enrollment}|${ctx.sharedIPad ? 1 : 0}`;
  let cache = caches.get(rule);
  if (!cache) {
    cache = new Map();
    caches.set(rule, cache);
  }
  let hit = cache.get(key);
  if (!hit) {
    if (cache.size >= MAX_CONTEXTS_PER_SCHEMA) cache.clear();
    hit = resolveRoot(rule, ctx, v);
    cache.set(key, hit);
  }
  return hit;
}
