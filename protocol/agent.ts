/**
 * What the vendor agent and its server speak: the agent's identity, the configuration it is
 * installed with, and its check-in (`POST /agent/v1/checkin`, JSON). Both sides use these;
 * no I/O here.
 *
 * Authentication is per device and needs no extra secret: the agent signs the exact body
 * bytes with the Mac's MDM identity (the certificate the enrollment profile installed) and
 * sends the detached CMS as `Mdm-Signature`, exactly as the MDM client does. The server
 * accepts it only from the certificate bound to that UDID at Authenticate. (A server started
 * with auth `none` skips the check, as it does for MDM.)
 *
 * Session tokens spare the agent a signature (and the server a CMS parse and verify) on every
 * check-in, as real agents authenticate once and then use a short-lived credential:
 *
 *   1. A signed check-in that succeeds answers `session_token` (opaque) and
 *      `session_expires_at` (ISO, the server's clock; 24 h after the check-in by default).
 *   2. Later check-ins may send `Authorization: Bearer <session_token>` instead of
 *      `Mdm-Signature`. The server accepts it while it is unexpired (server clock), names the
 *      body's `udid`, was issued for the identity certificate that enrollment is bound to now
 *      (a re-enrollment or an erase ends it) and the enrollment is enabled. It keeps no state
 *      per token: the token carries its claims under an HMAC whose key the server makes when it
 *      starts, so a server restart ends every session too.
 *   3. Otherwise it answers 401 with a problem body (`session-expired`, `bad-session-token`,
 *      `session-revoked`; field `Authorization`) saying to sign: the agent drops the token and
 *      sends the same check-in again, signed, which earns a new one.
 *
 * With both headers the signature is checked and the token ignored. The agent signs its first
 * check-in after an install (`install`) always, and signs again (refreshing the token) once
 * less than AGENT_SESSION_REFRESH_MARGIN_MS of the token's life remains; it measures that life
 * as `session_expires_at - server_time`, so its own clock may differ from the server's. A
 * reinstall or an erase drops the token. A server with auth `none` issues no tokens.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { problem } from './problem';

export const AGENT_BUNDLE_ID = 'io.mdmsim.agent';
export const AGENT_TITLE = 'mdmsim Agent';
export const AGENT_VERSION = '1.4.2';

export const AGENT_MANIFEST_PATH = '/agent/manifest.plist';
export const AGENT_PACKAGE_PREFIX = '/agent/packages/';
export const AGENT_CHECKIN_PATH = '/agent/v1/checkin';
export const AGENT_CHECKIN_CONTENT_TYPE = 'application/json';

/** The package's file name for a version, e.g. `mdmsim-agent-1.4.2.pkg`. */
export function agentPackageName(version: string): string {
  return `mdmsim-agent-${version}.pkg`;
}

/** The agent's recurring check-in period. */
export const AGENT_CHECKIN_INTERVAL_MS = 15 * 60_000;
/** The check-in that carries the app inventory comes once a day. */
export const AGENT_INVENTORY_INTERVAL_MS = 24 * 3_600_000;
/** The agent signs (and so gets a new session token) once less than this remains of its token's life. */
export const AGENT_SESSION_REFRESH_MARGIN_MS = 3_600_000;
/** The `Authorization` scheme of a session token. */
export const AGENT_SESSION_SCHEME = 'Bearer';

/**
 * The `Configuration` dictionary of the agent's InstallEnterpriseApplication (macOS 11+):
 * where the agent checks in. Without it (older macOS, or another MDM server) the agent
 * checks in at AGENT_CHECKIN_PATH on the origin of the ManifestURL.
 */
export interface AgentConfiguration {
  AgentCheckinURL: string;
  /** Seconds between recurring check-ins (default 900). */
  CheckinIntervalSeconds?: number;
  /**
   * The agent's certificate pin: base64 of the SHA-256 of the server certificate's
   * SubjectPublicKeyInfo (publicKeyPin). The agent refuses any connection to its server whose
   * certificate carries another key, whoever issued it: this is what TLS inspection breaks, even
   * with the inspection CA trusted (the seed's "SSL/TLS Inspection"). Absent: no pinning.
   */
  ServerPinSHA256?: string;
}

/** A certificate's key pin: base64 SHA-256 of its SubjectPublicKeyInfo (DER), as HPKP's pin-sha256. */
export function publicKeyPin(certificate: Buffer | string | X509Certificate): string {
  const cert = certificate instanceof X509Certificate ? certificate : new X509Certificate(certificate);
  return createHash('sha256').update(cert.publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
}

export type AgentCheckinKind =
  /** The first check-in after an install (or reinstall). */
  | 'install'
  /** Every 15 minutes. */
  | 'recurring'
  /** Once a day, with the app inventory. */
  | 'inventory';

export const AGENT_CHECKIN_KINDS: readonly AgentCheckinKind[] = ['install', 'recurring', 'inventory'];

export interface AgentApp {
  bundle_id: string;
  name: string;
  version: string;
  /** Where the app lives, e.g. `/Applications/Safari.app`. */
  path?: string;
}

/** The body of `POST /agent/v1/checkin`. Times are ISO-8601 on the device's clock. */
export interface AgentCheckin {
  udid: string;
  serial_number: string;
  agent_version: string;
  kind: AgentCheckinKind;
  /** When this copy of the agent was installed. */
  installed_at: string;
  sent_at: string;
  os_version?: string;
  /** Present on `inventory` (and `install`) check-ins: everything in /Applications. */
  apps?: AgentApp[];
}

/** The server's 200 answer. */
export interface AgentCheckinResponse {
  ok: true;
  server_time: string;
  /** When to check in next, in seconds (the agent may be told to slow down). */
  next_checkin_seconds: number;
  /** The server asks the agent to remove itself (the device was deleted). */
  uninstall?: boolean;
  /**
   * After a signed check-in (and not with auth `none`): a credential for the next check-ins,
   * sent as `Authorization: Bearer <session_token>` instead of `Mdm-Signature`. Opaque.
   */
  session_token?: string;
  /** When session_token stops being accepted (ISO, the server's clock). */
  session_expires_at?: string;
}

const MAX_APPS = 10_000;

/**
 * Reads and checks a check-in body; throws a ProblemError (400) naming the field at fault.
 */
export function parseAgentCheckin(value: unknown): AgentCheckin {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw problem(400, 'not-an-object', 'an agent check-in is a JSON object', { expected: '{"udid": "...", "serial_number": "...", "agent_version": "...", "kind": "recurring", ...}' });
  }
  const v = value as Record<string, unknown>;
  const str = (field: string, required = true): string | undefined => {
    const x = v[field];
    if (x === undefined && !required) return undefined;
    if (typeof x !== 'string' || x === '' || x.length > 256) {
      throw problem(400, 'bad-field', `${field} must be a non-empty string of at most 256 characters`, { field });
    }
    return x;
  };
  const time = (field: string): string => {
    const x = str(field)!;
    if (Number.isNaN(Date.parse(x))) throw problem(400, 'bad-field', `${field} must be an ISO-8601 time`, { field, expected: 'e.g. 2026-11-23T10:15:00.000Z' });
    return x;
  };
  const kind = v.kind;
  if (typeof kind !== 'string' || !(AGENT_CHECKIN_KINDS as readonly string[]).includes(kind)) {
    throw problem(400, 'bad-field', `kind must be one of ${AGENT_CHECKIN_KINDS.join(', ')}`, { field: 'kind' });
  }
  const out: AgentCheckin = {
    udid: str('udid')!,
    serial_number: str('serial_number')!,
    agent_version: str('agent_version')!,
    kind: kind as AgentCheckinKind,
    installed_at: time('installed_at'),
    sent_at: time('sent_at'),
  };
  const os = str('os_version', false);
  if (os !== undefined) out.os_version = os;
  if (v.apps !== undefined) {
    if (!Array.isArray(v.apps) || v.apps.length > MAX_APPS) {
      throw problem(400, 'bad-field', `apps must be an array of at most ${MAX_APPS} apps`, { field: 'apps' });
    }
    out.apps = v.apps.map((a, i) => {
      const field = `apps[${i}]`;
      if (typeof a !== 'object' || a === null) throw problem(400, 'bad-field', `${field} must be an object`, { field });
      const app = a as Record<string, unknown>;
      for (const k of ['bundle_id', 'name', 'version']) {
        if (typeof app[k] !== 'string' || app[k] === '') throw problem(400, 'bad-field', `${field}.${k} must be a non-empty string`, { field: `${field}.${k}` });
      }
      if (app.path !== undefined && typeof app.path !== 'string') throw problem(400, 'bad-field', `${field}.path must be a string`, { field: `${field}.path` });
      return { bundle_id: app.bundle_id as string, name: app.name as string, version: app.version as string, ...(app.path !== undefined ? { path: app.path as string } : {}) };
    });
  }
  return out;
}
