/**
 * InstallEnterpriseApplication: fetch the manifest (ManifestURL) or take the inline Manifest,
 * download every `software-package` asset, check its per-chunk sha256s/md5s, then install.
 *
 * Where this differs from a real Mac, on purpose: macOS acknowledges the command before it
 * downloads anything and a failed download or hash check shows only in its log (see
 * errors.ts); mdmsim answers such failures with Error and an ErrorChain, as issue 5 asks, so
 * a server and a lab can see them. The install itself is instant.
 */
import { AGENT_BUNDLE_ID, AGENT_CHECKIN_INTERVAL_MS, AGENT_CHECKIN_PATH } from '../../protocol/agent';
import type { CommandPayload } from '../../protocol/command';
import { parseManifest, SOFTWARE_PACKAGE, verifyAsset, type ManifestItem } from '../../protocol/manifest';
import { parsePlist, PlistError } from '../../protocol/plist';
import { isPlistDict, type PlistValue } from '../../protocol/plist/types';
import { ProblemError } from '../../protocol/problem';
import { NetworkError, type AfterReport, type CommandContext, type HandlerOutcome, type InstalledApp } from '../state';
import * as errors from './errors';
import { osAtLeast } from './facts';
import { acknowledged, failure, formatError } from './outcome';

type Parsed = { ok: true; url: URL } | { ok: false; outcome: HandlerOutcome };

function httpsUrl(raw: string): Parsed {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return { ok: false, outcome: failure(errors.invalidUrl(raw)) };
  }
  // The schema: "The URL of the app manifest, which needs to begin with 'https:'".
  if (url.protocol !== 'https:') return { ok: false, outcome: failure(errors.urlNotHttps(raw)) };
  return { ok: true, url };
}

async function download(ctx: CommandContext, url: string, purpose: 'manifest' | 'package'): Promise<Buffer | HandlerOutcome> {
  try {
    return await ctx.network.get(url, purpose);
  } catch (err) {
    // Only network failures are the server's (or the network's) doing; anything else is a bug.
    if (err instanceof NetworkError) return failure(errors.downloadFailed(purpose, err));
    throw err;
  }
}

function readManifest(value: PlistValue): ManifestItem[] | HandlerOutcome {
  try {
    return parseManifest(value);
  } catch (err) {
    if (err instanceof ProblemError) return failure(errors.invalidManifest(err.message));
    throw err;
  }
}

/** The agent's check-in URL: Configuration.AgentCheckinURL, else AGENT_CHECKIN_PATH on `origin`. */
function agentCheckinUrl(configuration: PlistValue | undefined, origin: string): string {
  const configured = isPlistDict(configuration) ? configuration.AgentCheckinURL : undefined;
  if (typeof configured === 'string') {
    try {
      if (new URL(configured).protocol === 'https:') return configured;
    } catch {
      // Not a URL: the agent falls back to its default, as it would with no configuration.
    }
  }
  return `${origin}${AGENT_CHECKIN_PATH}`;
}

/**
 * The pin the agent is configured with (Configuration.ServerPinSHA256): none when the key is
 * absent, an error when it is there but is not a pin. A pin the agent cannot read must not mean
 * "trust any server": the install is refused, so the server sees the mistake.
 */
function agentPin(configuration: PlistValue | undefined): { pin?: string } | { error: string } {
  if (!isPlistDict(configuration) || configuration.ServerPinSHA256 === undefined) return {};
  const pin = configuration.ServerPinSHA256;
  // A SHA-256 in base64 is 44 characters; anything else is not a pin the agent can check.
  if (typeof pin === 'string' && /^[A-Za-z0-9+/]{43}=$/.test(pin)) return { pin };
  const shown = typeof pin === 'string' ? JSON.stringify(pin.length > 60 ? `${pin.slice(0, 60)}…` : pin) : `a ${Array.isArray(pin) ? 'array' : typeof pin}`;
  return { error: `Configuration.ServerPinSHA256 must be the base64 SHA-256 of the server's public key (44 characters ending in =); got ${shown}. The agent would not pin its server, so it is not installed` };
}

function agentInterval(configuration: PlistValue | undefined): number {
  const seconds = isPlistDict(configuration) ? configuration.CheckinIntervalSeconds : undefined;
  return typeof seconds === 'number' && Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : AGENT_CHECKIN_INTERVAL_MS;
}

export async function installEnterpriseApplication(command: CommandPayload, ctx: CommandContext): Promise<HandlerOutcome> {
  const { ManifestURL, Manifest } = command;
  let manifestValue: PlistValue;
  let origin: string | undefined;

  if (typeof ManifestURL === 'string') {
    const parsed = httpsUrl(ManifestURL);
    if (!parsed.ok) return parsed.outcome;
    origin = parsed.url.origin;
    const body = await download(ctx, ManifestURL, 'manifest');
    if (!Buffer.isBuffer(body)) return body;
    try {
      manifestValue = parsePlist(body);
    } catch (err) {
      if (err instanceof PlistError) return failure(errors.invalidManifest(`the document at ${ManifestURL} is not a property list (${err.message})`));
      throw err;
    }
  } else if (isPlistDict(Manifest)) {
    manifestValue = Manifest;
  } else {
    // Apple's schema marks both optional, but one of them says what to install.
    return formatError(errors.malformedRequest('InstallEnterpriseApplication needs a ManifestURL or a Manifest'));
  }

  const items = readManifest(manifestValue);
  if (!Array.isArray(items)) return items;
  if (items.length > 1) return failure(errors.tooManyApps(items.length));
  const item = items[0]!;
  // Configuration exists from macOS 11 (schema); an older Mac never hands it to the app.
  const configuration = item.bundleIdentifier === AGENT_BUNDLE_ID && osAtLeast(ctx.mac, '11.0') ? command.Configuration : undefined;
  const pin = agentPin(configuration);
  if ('error' in pin) return formatError(errors.malformedRequest(pin.error));
  const packages = item.assets.filter((a) => a.kind === SOFTWARE_PACKAGE);
  if (packages.length === 0) return failure(errors.invalidManifest(`the item for ${item.bundleIdentifier} has no asset of kind ${SOFTWARE_PACKAGE}`));

  let size = 0;
  for (const asset of packages) {
    const bytes = await download(ctx, asset.url, 'package');
    if (!Buffer.isBuffer(bytes)) return bytes;
    const check = verifyAsset(asset, bytes);
    if (!check.ok) return failure(errors.hashMismatch(asset.url, check.message));
    size += bytes.length;
    if (origin === undefined) {
      try {
        origin = new URL(asset.url).origin;
      } catch {
        return failure(errors.invalidUrl(asset.url));
      }
    }
  }

  const now = ctx.clock.now();
  const version = item.bundleVersion ?? '1.0';
  const app: InstalledApp = {
    bundleId: item.bundleIdentifier,
    name: item.title,
    version,
    shortVersion: version,
    path: `/Applications/${item.title}.app`,
    sizeBytes: size,
    installedAt: now,
    managed: true,
  };
  ctx.mac.apps.set(app.bundleId, app);

  const after: AfterReport[] = [];
  if (app.bundleId === AGENT_BUNDLE_ID) {
    ctx.mac.agent = {
      installed: true,
      version,
      installedAt: now,
      checkinUrl: agentCheckinUrl(configuration, origin!),
      intervalMs: agentInterval(configuration),
      ...pin,
    };
    after.push('start-agent');
  }
  // A Mac acknowledges with nothing beyond the envelope: the schema has no response keys.
  return acknowledged(undefined, after);
}
