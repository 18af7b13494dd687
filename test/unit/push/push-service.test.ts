/**
 * PushService on a virtual clock with real storage and event log: who gets pushed, what APNs'
 * answers do (410 marks the token, 429/5xx/no answer retry with backoff on the clock), one
 * push per device at a time, and the events. A scripted sender stands in for APNs; the last
 * tests go through the real ApnsClient to a real HTTP/2 TLS server.
 */
import * as fs from 'node:fs';
import * as http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { VirtualClock } from '../../../protocol/clock';
import { EventLog } from '../../../server/service/event-log';
import { MemoryStorage } from '../../../server/storage/memory';
import type { EventRecord } from '../../../server/storage/types';
import { ApnsClient, PushService, type ApnsRequestHeaders, type ApnsSendResult, type ApnsSender, type PushServiceOptions } from '../../../server/push';
import { loadOrCreateCa, loadOrCreatePushCert, loadOrCreateServerCert } from '../../../server/pki';
import { tempDirs } from '../../helpers/pki';

const T0 = Date.UTC(2026, 0, 5, 9, 0, 0);
const TOPIC = 'com.apple.mgmt.External.5b2a1a3c-0f4e-4f7e-9a57-2f5d7c9e1b11';
const tokenOf = (n: number) => n.toString(16).padStart(2, '0').repeat(32);
const magicOf = (n: number) => `PUSHMAGIC-${n}`;

interface Call {
  token: string;
  payload: string;
  headers: ApnsRequestHeaders | undefined;
  at: number;
}

/** A sender that answers what `answer` says, or holds the answer until released. */
class ScriptedSender implements ApnsSender {
  readonly calls: Call[] = [];
  answer: (call: Call) => ApnsSendResult | Promise<ApnsSendResult> = () => ({ ok: true, status: 200, apnsId: `apns-id-${this.calls.length}` });
  constructor(private readonly clock: VirtualClock) {}

  async send(token: string, payload: string, headers?: ApnsRequestHeaders): Promise<ApnsSendResult> {
    const call = { token, payload, headers, at: this.clock.now() };
    this.calls.push(call);
    return this.answer(call);
  }

  /** Answers from now on wait until the returned function is called with the result. */
  hold(): { release: (r: ApnsSendResult) => void; arrived: Promise<void> } {
    let release!: (r: ApnsSendResult) => void;
    let arrive!: () => void;
    const arrived = new Promise<void>((r) => (arrive = r));
    const result = new Promise<ApnsSendResult>((r) => (release = r));
    this.answer = () => {
      arrive();
      return result;
    };
    return { release, arrived };
  }
}

const http = (status: number, reason?: string, timestamp?: number): ApnsSendResult => {
  const r: { ok: false; status: number; reason?: string; timestamp?: number } = { ok: false, status };
  if (reason !== undefined) r.reason = reason;
  if (timestamp !== undefined) r.timestamp = timestamp;
  return r;
};
const noAnswer = (error = 'connection refused'): ApnsSendResult => ({ ok: false, status: 0, error });

let clock: VirtualClock;
let store: MemoryStorage;
let events: EventLog;
let sender: ScriptedSender;
let service: PushService;

function setup(retry?: PushServiceOptions['retry']): void {
  clock = new VirtualClock({ start: T0 });
  store = new MemoryStorage();
  events = new EventLog(store, clock);
  sender = new ScriptedSender(clock);
  service = new PushService({ store, clock, events, sender, retry });
}

beforeEach(() => setup());
afterEach(() => service.close());

/** Authenticate, then TokenUpdate: an enabled enrollment with token n and PushMagic n. */
function enroll(id: string, n = 1): void {
  store.storeAuthenticate({ id, udid: id, topic: TOPIC }, clock.now());
  tokenUpdate(id, n);
}

function tokenUpdate(id: string, n: number): void {
  store.storeTokenUpdate(id, { topic: TOPIC, token: tokenOf(n), pushMagic: magicOf(n) }, clock.now());
}

const pushEvents = (udid?: string): EventRecord[] => events.query({ types: ['mdm.push'], udid });

// ---- sending ------------------------------------------------------------------------------

describe('a push', () => {
  it('sends {"mdm": PushMagic} to the token of the last TokenUpdate, as an MDM push to the topic at priority 10', async () => {
    enroll('MAC-1', 7);
    await expect(service.push(['MAC-1'], 'enqueue')).resolves.toEqual({ 'MAC-1': { status: 'sent', apnsId: 'apns-id-1' } });
    expect(sender.calls).toEqual([{ token: tokenOf(7), payload: '{"mdm":"PUSHMAGIC-7"}', headers: { topic: TOPIC, pushType: 'mdm', priority: 10 }, at: T0 }]);
  });

  it('is recorded as mdm.push.sent from mdm to apns, with a one-line summary and small data', async () => {
    enroll('MAC-1');
    sender.answer = () => ({ ok: true, status: 200, apnsId: '1f2e3d4c-0000-4000-8000-00000000abcd' });
    await service.push(['MAC-1'], 'operator');
    const [e] = pushEvents('MAC-1');
    expect(e).toMatchObject({ type: 'mdm.push.sent', udid: 'MAC-1', from: 'mdm', to: 'apns', at: T0, summary: 'push → APNs 200 apns-id 1f2e3d4c…' });
    expect(e!.data).toEqual({ apnsId: '1f2e3d4c-0000-4000-8000-00000000abcd', why: 'operator', attempt: 1, status: 200 });
  });

  it('goes to many devices in parallel and answers for each; a repeated id is pushed once', async () => {
    for (let i = 1; i <= 3; i++) enroll(`MAC-${i}`, i);
    const held = sender.hold();
    const all = service.push(['MAC-1', 'MAC-2', 'MAC-3', 'MAC-2'], 'policy');
    await held.arrived;
    // All three are on the wire before any answer.
    expect(sender.calls.map((c) => c.token)).toEqual([tokenOf(1), tokenOf(2), tokenOf(3)]);
    held.release({ ok: true, status: 200, apnsId: 'same' });
    expect(Object.keys(await all)).toEqual(['MAC-1', 'MAC-2', 'MAC-3']);
  });
});

describe('skipped pushes', () => {
  it('says why, sends nothing and records mdm.push.skipped', async () => {
    store.storeAuthenticate({ id: 'AUTH-ONLY', topic: TOPIC }, T0);
    enroll('CHECKED-OUT');
    store.disable('CHECKED-OUT', T0);
    enroll('NO-MAGIC');
    store.storeTokenUpdate('NO-MAGIC', { topic: TOPIC, token: tokenOf(3), pushMagic: '' }, T0);
    enroll('GONE', 4);
    store.markPushTokenInvalid('GONE', tokenOf(4), T0);

    const out = await service.push(['UNKNOWN', 'AUTH-ONLY', 'CHECKED-OUT', 'NO-MAGIC', 'GONE'], 'enqueue');
    expect(out).toEqual({
      UNKNOWN: { status: 'skipped', reason: 'unknown-enrollment' },
      'AUTH-ONLY': { status: 'skipped', reason: 'not-enabled' },
      'CHECKED-OUT': { status: 'skipped', reason: 'not-enabled' },
      'NO-MAGIC': { status: 'skipped', reason: 'no-token' },
      GONE: { status: 'skipped', reason: 'token-invalid' },
    });
    expect(sender.calls).toHaveLength(0);
    const skipped = pushEvents();
    expect(skipped.map((e) => [e.type, e.udid, e.data])).toEqual([
      ['mdm.push.skipped', 'UNKNOWN', { reason: 'unknown-enrollment', why: 'enqueue' }],
      ['mdm.push.skipped', 'AUTH-ONLY', { reason: 'not-enabled', why: 'enqueue' }],
      ['mdm.push.skipped', 'CHECKED-OUT', { reason: 'not-enabled', why: 'enqueue' }],
      ['mdm.push.skipped', 'NO-MAGIC', { reason: 'no-token', why: 'enqueue' }],
      ['mdm.push.skipped', 'GONE', { reason: 'token-invalid', why: 'enqueue' }],
    ]);
    expect(skipped[4]!.summary).toBe('push not sent: APNs called its token Unregistered (410); waiting for its next TokenUpdate');
  });
});

// ---- 410 ----------------------------------------------------------------------------------

describe('410 Unregistered', () => {
  it("marks the token invalid at APNs' timestamp until the next TokenUpdate, and is not retried", async () => {
    enroll('MAC-1', 1);
    sender.answer = () => http(410, 'Unregistered', T0 - 5000);
    await expect(service.push(['MAC-1'], 'enqueue')).resolves.toEqual({
      'MAC-1': { status: 'failed', httpStatus: 410, reason: 'Unregistered', retrying: false, attempt: 1 },
    });
    expect(store.getEnrollment('MAC-1')!.pushTokenInvalidAt).toBe(T0 - 5000);
    expect(clock.pendingTimers()).toBe(0);
    const [e] = pushEvents('MAC-1');
    expect(e).toMatchObject({ type: 'mdm.push.failed', summary: 'push → APNs 410 Unregistered: token marked invalid until the next TokenUpdate' });
    expect(e!.data).toEqual({ httpStatus: 410, reason: 'Unregistered', attempt: 1, retrying: false, tokenInvalid: true, why: 'enqueue' });

    // No more pushes to that token...
    expect((await service.push(['MAC-1'], 'operator'))['MAC-1']).toEqual({ status: 'skipped', reason: 'token-invalid' });
    // ...until the device sends a TokenUpdate.
    tokenUpdate('MAC-1', 2);
    sender.answer = () => ({ ok: true, status: 200, apnsId: 'again' });
    expect((await service.push(['MAC-1'], 'operator'))['MAC-1']).toEqual({ status: 'sent', apnsId: 'again' });
    expect(sender.calls.map((c) => c.token)).toEqual([tokenOf(1), tokenOf(2)]);
  });

  it('without a timestamp marks it at clock time', async () => {
    enroll('MAC-1');
    await clock.advance(60_000);
    sender.answer = () => http(410, 'ExpiredToken');
    await service.push(['MAC-1'], 'enqueue');
    expect(store.getEnrollment('MAC-1')!.pushTokenInvalidAt).toBe(T0 + 60_000);
  });

  it('leaves a token alone that a TokenUpdate replaced while the push was out', async () => {
    enroll('MAC-1', 1);
    const held = sender.hold();
    const out = service.push(['MAC-1'], 'enqueue');
    await held.arrived;
    tokenUpdate('MAC-1', 2);
    held.release(http(410, 'Unregistered', T0));
    expect((await out)['MAC-1']).toMatchObject({ status: 'failed', httpStatus: 410, retrying: false });
    expect(store.getEnrollment('MAC-1')!.pushTokenInvalidAt).toBeUndefined();
    expect(pushEvents('MAC-1')[0]!.summary).toBe('push → APNs 410 Unregistered: that token was already replaced by a newer TokenUpdate, which stays valid');
  });
});

// ---- retries ------------------------------------------------------------------------------

describe('retries', () => {
  it('503 is retried on the clock after 1 s, 2 s, 4 s, 8 s, then given up after 5 attempts', async () => {
    enroll('MAC-1');
    sender.answer = () => http(503, 'ServiceUnavailable');
    await expect(service.push(['MAC-1'], 'enqueue')).resolves.toEqual({
      'MAC-1': { status: 'failed', httpStatus: 503, reason: 'ServiceUnavailable', retrying: true, attempt: 1 },
    });
    expect(service.pendingRetries).toBe(1);
    // Nothing happens until the clock moves.
    await service.idle();
    expect(sender.calls).toHaveLength(1);

    await clock.advance(999);
    expect(sender.calls).toHaveLength(1);
    await clock.advance(1);
    expect(sender.calls).toHaveLength(2);
    await clock.advance(60_000);
    expect(sender.calls.map((c) => c.at - T0)).toEqual([0, 1000, 3000, 7000, 15000]);
    expect(service.pendingRetries).toBe(0);
    expect(clock.pendingTimers()).toBe(0);

    const failed = pushEvents('MAC-1');
    expect(failed.map((e) => [e.at - T0, e.data!.attempt, e.data!.retrying, e.data!.nextAttemptInMs, e.data!.why])).toEqual([
      [0, 1, true, 1000, 'enqueue'],
      [1000, 2, true, 2000, 'retry'],
      [3000, 3, true, 4000, 'retry'],
      [7000, 4, true, 8000, 'retry'],
      [15000, 5, false, undefined, 'retry'],
    ]);
    expect(failed.map((e) => e.summary)).toEqual([
      'push → APNs 503 ServiceUnavailable, retry 2/5 in 1s',
      'push → APNs 503 ServiceUnavailable, retry 3/5 in 2s',
      'push → APNs 503 ServiceUnavailable, retry 4/5 in 4s',
      'push → APNs 503 ServiceUnavailable, retry 5/5 in 8s',
      'push → APNs 503 ServiceUnavailable, giving up after 5 attempts',
    ]);
  });

  it('a retry that goes through is recorded as sent, with its attempt', async () => {
    enroll('MAC-1');
    sender.answer = () => (sender.calls.length < 3 ? http(429, 'TooManyRequests') : { ok: true, status: 200, apnsId: 'third' });
    await service.push(['MAC-1'], 'enqueue');
    await clock.advance(3000);
    const sent = events.query({ types: ['mdm.push.sent'] });
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ at: T0 + 3000, summary: 'push → APNs 200 apns-id third (attempt 3/5)', data: { apnsId: 'third', why: 'retry', attempt: 3, status: 200 } });
    expect(service.pendingRetries).toBe(0);
  });

  it('waits at most maxDelayMs between attempts', async () => {
    service.close();
    setup({ attempts: 6, baseDelayMs: 1000, maxDelayMs: 3000 });
    enroll('MAC-1');
    sender.answer = () => http(500, 'InternalServerError');
    await service.push(['MAC-1'], 'enqueue');
    await clock.advance(3_600_000);
    expect(sender.calls.map((c) => c.at - T0)).toEqual([0, 1000, 3000, 6000, 9000, 12000]);
  });

  it.each([
    ['429 TooManyRequests', http(429, 'TooManyRequests')],
    ['500 InternalServerError', http(500, 'InternalServerError')],
    ['503 Shutdown', http(503, 'Shutdown')],
    ['no answer (status 0)', noAnswer('connect ECONNREFUSED 127.0.0.1:2197')],
  ])('%s is retried', async (_name, result) => {
    enroll('MAC-1');
    sender.answer = () => result;
    const out = (await service.push(['MAC-1'], 'enqueue'))['MAC-1'];
    expect(out).toMatchObject({ status: 'failed', httpStatus: result.status, retrying: true, attempt: 1 });
    expect(clock.pendingTimers()).toBe(1);
  });

  it.each([
    [400, 'BadDeviceToken'],
    [400, 'DeviceTokenNotForTopic'],
    [403, 'BadCertificate'],
    [404, 'BadPath'],
    [405, 'MethodNotAllowed'],
    [413, 'PayloadTooLarge'],
  ])('%i %s is not retried', async (status, reason) => {
    enroll('MAC-1');
    sender.answer = () => http(status, reason);
    const out = (await service.push(['MAC-1'], 'enqueue'))['MAC-1'];
    expect(out).toEqual({ status: 'failed', httpStatus: status, reason, retrying: false, attempt: 1 });
    expect(clock.pendingTimers()).toBe(0);
    expect(pushEvents('MAC-1')[0]!.summary).toBe(`push → APNs ${status} ${reason}, not retried (retrying cannot fix the request)`);
    expect(store.getEnrollment('MAC-1')!.pushTokenInvalidAt).toBeUndefined();
  });

  it('no answer says so, with the error', async () => {
    enroll('MAC-1');
    sender.answer = () => noAnswer('connection to 127.0.0.1:2197 refused');
    const out = (await service.push(['MAC-1'], 'enqueue'))['MAC-1'];
    expect(out).toEqual({ status: 'failed', httpStatus: 0, error: 'connection to 127.0.0.1:2197 refused', retrying: true, attempt: 1 });
    const [e] = pushEvents('MAC-1');
    expect(e!.summary).toBe('push → APNs: no answer (connection to 127.0.0.1:2197 refused), retry 2/5 in 1s');
    expect(e!.data).toEqual({ httpStatus: 0, error: 'connection to 127.0.0.1:2197 refused', attempt: 1, retrying: true, nextAttemptInMs: 1000, why: 'enqueue' });
  });

  it('a sender that rejects counts as no answer', async () => {
    enroll('MAC-1');
    sender.answer = () => Promise.reject(new Error('socket hang up'));
    expect((await service.push(['MAC-1'], 'enqueue'))['MAC-1']).toMatchObject({ status: 'failed', httpStatus: 0, error: 'sender failed: socket hang up', retrying: true });
  });

  it("re-reads the enrollment: a device re-enrolled since gets the retry at its new token and PushMagic", async () => {
    enroll('MAC-1', 1);
    sender.answer = (call) => (call.token === tokenOf(1) ? http(503, 'ServiceUnavailable') : { ok: true, status: 200, apnsId: 'new-token' });
    await service.push(['MAC-1'], 'enqueue');
    // Re-enrollment: Authenticate, then a TokenUpdate with a new token.
    store.storeAuthenticate({ id: 'MAC-1', udid: 'MAC-1', topic: TOPIC }, clock.now());
    tokenUpdate('MAC-1', 2);
    await clock.advance(1000);
    expect(sender.calls.map((c) => [c.token, c.payload])).toEqual([
      [tokenOf(1), '{"mdm":"PUSHMAGIC-1"}'],
      [tokenOf(2), '{"mdm":"PUSHMAGIC-2"}'],
    ]);
    expect(events.query({ types: ['mdm.push.sent'] })[0]!.data).toMatchObject({ apnsId: 'new-token', attempt: 2 });
  });

  it('a retry that finds the device checked out is skipped and ends there', async () => {
    enroll('MAC-1');
    sender.answer = () => http(503, 'ServiceUnavailable');
    await service.push(['MAC-1'], 'enqueue');
    store.disable('MAC-1', clock.now());
    await clock.advance(60_000);
    expect(sender.calls).toHaveLength(1);
    expect(pushEvents('MAC-1').map((e) => [e.type, e.at - T0, e.data!.reason])).toEqual([
      ['mdm.push.failed', 0, 'ServiceUnavailable'],
      ['mdm.push.skipped', 1000, 'not-enabled'],
    ]);
    expect(service.pendingRetries).toBe(0);
  });
});

// ---- one push per device at a time --------------------------------------------------------

describe('one push per device at a time', () => {
  it('while a retry is scheduled a new push is skipped (retry-pending) and schedules nothing more', async () => {
    enroll('MAC-1');
    enroll('MAC-2', 2);
    sender.answer = (call) => (call.token === tokenOf(1) ? http(503, 'ServiceUnavailable') : { ok: true, status: 200, apnsId: 'x' });
    await service.push(['MAC-1'], 'enqueue');
    const again = await service.push(['MAC-1', 'MAC-2'], 'enqueue');
    expect(again).toEqual({ 'MAC-1': { status: 'skipped', reason: 'retry-pending' }, 'MAC-2': { status: 'sent', apnsId: 'x' } });
    expect(clock.pendingTimers()).toBe(1);
    expect(sender.calls.map((c) => c.token)).toEqual([tokenOf(1), tokenOf(2)]);
    expect(pushEvents('MAC-1').at(-1)).toMatchObject({ type: 'mdm.push.skipped', data: { reason: 'retry-pending', why: 'enqueue' } });
  });

  it('while a retry is on the wire a new push is skipped too', async () => {
    enroll('MAC-1');
    sender.answer = () => http(503, 'ServiceUnavailable');
    await service.push(['MAC-1'], 'enqueue');
    const held = sender.hold();
    // The clock awaits the retry's work, so this advance ends only once the answer is in.
    const advancing = clock.advance(1000);
    await held.arrived;
    expect((await service.push(['MAC-1'], 'operator'))['MAC-1']).toEqual({ status: 'skipped', reason: 'retry-pending' });
    held.release({ ok: true, status: 200, apnsId: 'retried' });
    await advancing;
    expect(sender.calls).toHaveLength(2);
    expect(service.pendingRetries).toBe(0);
    // Over: pushes go again.
    sender.answer = () => ({ ok: true, status: 200, apnsId: 'fresh' });
    expect((await service.push(['MAC-1'], 'operator'))['MAC-1']).toEqual({ status: 'sent', apnsId: 'fresh' });
  });

  it('a push asked for while the first attempt is on the wire shares its answer', async () => {
    enroll('MAC-1');
    const held = sender.hold();
    const first = service.push(['MAC-1'], 'enqueue');
    await held.arrived;
    const second = service.push(['MAC-1'], 'operator');
    held.release({ ok: true, status: 200, apnsId: 'one' });
    expect(await first).toEqual({ 'MAC-1': { status: 'sent', apnsId: 'one' } });
    expect(await second).toEqual({ 'MAC-1': { status: 'sent', apnsId: 'one' } });
    expect(sender.calls).toHaveLength(1);
    expect(pushEvents('MAC-1')).toHaveLength(1);
  });
});

// ---- idle() and close() -------------------------------------------------------------------

describe('idle() and close()', () => {
  it('idle() waits for pushes on the wire, not for retries a virtual clock has yet to reach', async () => {
    enroll('MAC-1');
    const held = sender.hold();
    void service.push(['MAC-1'], 'enqueue');
    await held.arrived;
    let idle = false;
    const waiting = service.idle().then(() => (idle = true));
    await new Promise((r) => setImmediate(r));
    expect(idle).toBe(false);
    held.release(http(503, 'ServiceUnavailable'));
    await waiting;
    expect(service.pendingRetries).toBe(1);
  });

  it('close() cancels scheduled retries; later failures schedule none', async () => {
    enroll('MAC-1');
    enroll('MAC-2', 2);
    sender.answer = () => http(503, 'ServiceUnavailable');
    await service.push(['MAC-1'], 'enqueue');
    service.close();
    expect(clock.pendingTimers()).toBe(0);
    expect(service.pendingRetries).toBe(0);
    await clock.advance(60_000);
    expect(sender.calls).toHaveLength(1);
    const out = (await service.push(['MAC-2'], 'enqueue'))['MAC-2'];
    expect(out).toMatchObject({ status: 'failed', retrying: false });
    expect(pushEvents('MAC-2')[0]!.summary).toBe('push → APNs 503 ServiceUnavailable, not retried: the push service is closed');
    await expect(service.idle()).resolves.toBeUndefined();
  });

  it('refuses a retry policy that makes no sense, saying what is wanted', () => {
    const base = { store, clock, events, sender };
    expect(() => new PushService({ ...base, retry: { attempts: 0 } })).toThrow(/attempts .*≥ 1/);
    expect(() => new PushService({ ...base, retry: { baseDelayMs: -1 } })).toThrow(/baseDelayMs/);
    expect(() => new PushService({ ...base, retry: { baseDelayMs: 5000, maxDelayMs: 1000 } })).toThrow(/maxDelayMs/);
  });
});

// ---- through the real client --------------------------------------------------------------

describe('through ApnsClient to an HTTP/2 TLS server', () => {
  const tempDir = tempDirs('mdmsim-push-service-');
  let server: http2.Http2SecureServer;
  let url: string;
  let client: ApnsClient;
  const seen: { path: string; headers: http2.IncomingHttpHeaders; body: string }[] = [];
  let respond: (stream: http2.ServerHttp2Stream, n: number) => void;
  const serverSessions = new Set<http2.ServerHttp2Session>();

  beforeAll(async () => {
    const dir = tempDir();
    const ca = await loadOrCreateCa(dir);
    const tls = await loadOrCreateServerCert(dir, ca, ['127.0.0.1']);
    const push = await loadOrCreatePushCert(dir, ca);
    const caPem = fs.readFileSync(path.join(dir, 'ca.pem'), 'utf8');
    server = http2.createSecureServer({ cert: tls.certPem, key: tls.keyPem, ca: caPem, requestCert: true, rejectUnauthorized: true });
    server.on('session', (s) => {
      serverSessions.add(s);
      s.on('close', () => serverSessions.delete(s));
    });
    server.on('stream', (stream, headers) => {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        seen.push({ path: String(headers[':path']), headers, body: Buffer.concat(chunks).toString() });
        respond(stream, seen.length);
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
    client = new ApnsClient({ url, certPem: push.certPem, keyPem: push.keyPem, ca: caPem });
  });

  afterAll(async () => {
    await client.close();
    for (const s of serverSessions) s.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  beforeEach(() => {
    service.close();
    service = new PushService({ store, clock, events, sender: client });
    seen.length = 0;
  });

  it('pushes {"mdm": PushMagic} with the MDM headers; a 503 is retried on the clock; a 410 marks the token', async () => {
    enroll('MAC-1', 9);
    respond = (stream, n) => {
      if (n === 1) {
        stream.respond({ ':status': 503, 'apns-id': 'a-1' });
        stream.end('{"reason":"ServiceUnavailable"}');
      } else if (n === 2) {
        stream.respond({ ':status': 200, 'apns-id': 'b7c1e0f2-0000-4000-8000-000000000002' });
        stream.end();
      } else {
        stream.respond({ ':status': 410, 'apns-id': 'c-3' });
        stream.end(JSON.stringify({ reason: 'Unregistered', timestamp: T0 + 1234 }));
      }
    };
    expect(await service.push(['MAC-1'], 'enqueue')).toEqual({
      'MAC-1': { status: 'failed', httpStatus: 503, reason: 'ServiceUnavailable', retrying: true, attempt: 1 },
    });
    await clock.advance(1000);
    await service.idle();
    expect(events.query({ types: ['mdm.push.sent'] })[0]!.data).toEqual({ apnsId: 'b7c1e0f2-0000-4000-8000-000000000002', why: 'retry', attempt: 2, status: 200 });

    expect(seen).toHaveLength(2);
    for (const r of seen) {
      expect(r.path).toBe(`/3/device/${tokenOf(9)}`);
      expect(r.body).toBe('{"mdm":"PUSHMAGIC-9"}');
      expect(r.headers).toMatchObject({ ':method': 'POST', 'apns-push-type': 'mdm', 'apns-topic': TOPIC, 'apns-priority': '10', 'content-type': 'application/json' });
      expect(r.headers['apns-expiration']).toBeUndefined();
    }

    expect((await service.push(['MAC-1'], 'operator'))['MAC-1']).toMatchObject({ status: 'failed', httpStatus: 410, reason: 'Unregistered', retrying: false });
    expect(store.getEnrollment('MAC-1')!.pushTokenInvalidAt).toBe(T0 + 1234);
  });
});
