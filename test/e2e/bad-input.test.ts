/**
 * Bad input gets a clear 4xx (never 401 on MDM endpoints), is recorded as an event, and
 * leaves every other device's state untouched.
 */
import { request } from 'node:https';
import { CHECKIN_CONTENT_TYPE } from '../../protocol/checkin';
import { COMMAND_CONTENT_TYPE, commands } from '../../protocol/command';
import { buildPlist } from '../../protocol/plist';
import { Keyring, TestMac, TOPIC, type HttpResult } from '../helpers/mdm-client';
import { startTestServer, type TestServer } from '../helpers/server';
import { POLICIES_OFF } from '../helpers/agent';

const LIMIT = 64 * 1024;
let t: TestServer;
let bystander: TestMac;
let other: TestMac;
let keys: Keyring;

beforeAll(async () => {
  t = await startTestServer({ ...POLICIES_OFF, maxBodyBytes: LIMIT });
  bystander = new TestMac(t.http);
  await bystander.enroll();
  other = new TestMac(t.http);
  await other.enroll();
  // Bad bodies are signed as their device would sign them, so they reach the body checks.
  keys = new Keyring(t.http);
  keys.add(bystander);
  keys.add(other);
  t.server.service.enqueue([bystander.udid], commands.ProfileList({}, { CommandUUID: 'BYSTANDER-CMD' }));
});
afterAll(() => t.stop());

function snapshot(udid: string) {
  const s = t.server.store;
  return JSON.stringify({ e: s.getEnrollment(udid), q: s.listQueue(udid), r: s.listResults({ id: udid }).map((r) => [r.commandUUID, r.status]) });
}

const checkin = async (body: string | Buffer, ct = CHECKIN_CONTENT_TYPE) => t.http.send('PUT', '/mdm/checkin', body, { 'content-type': ct, ...(await keys.headersFor(body)) });
const connect = async (body: string | Buffer, ct = COMMAND_CONTENT_TYPE) => t.http.send('PUT', '/mdm/connect', body, { 'content-type': ct, ...(await keys.headersFor(body)) });

const authenticateWithout = (key: string) => {
  const m: Record<string, unknown> = new TestMac(t.http).authenticateMessage();
  delete m[key];
  return buildPlist(m as never);
};

const BILLION_LAUGHS = `<?xml version="1.0"?>
<!DOCTYPE plist [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
]>
<plist version="1.0"><dict><key>MessageType</key><string>&lol3;</string></dict></plist>`;

interface Case {
  name: string;
  send: () => Promise<HttpResult>;
  status: number;
  code: string;
  field?: string;
}

const c = (name: string, send: () => Promise<HttpResult>, status: number, code: string, field?: string): Case => ({ name, send, status, code, field });

const cases: Case[] = [
  c('malformed XML', () => checkin('<plist><dict><key>MessageType</key><string>Authenticate</dict></plist>'), 400, 'malformed-plist'),
  c('not XML at all', () => connect('hello'), 400, 'malformed-plist'),
  c('entity expansion (billion laughs)', () => checkin(BILLION_LAUGHS), 400, 'malformed-plist'),
  c('a plist that is not a dict (check-in)', () => checkin(buildPlist(['Authenticate'])), 400, 'not-a-dict'),
  c('a plist that is not a dict (connect)', () => connect(buildPlist('Idle')), 400, 'not-a-dict'),
  c('missing MessageType', () => checkin(buildPlist({ UDID: 'X', Topic: TOPIC })), 400, 'missing-message-type', 'MessageType'),
  c('unknown MessageType', () => checkin(buildPlist({ MessageType: 'Hello', UDID: 'X', Topic: TOPIC })), 400, 'unknown-message-type', 'MessageType'),
  c('macOS Authenticate missing DeviceName', () => checkin(authenticateWithout('DeviceName')), 400, 'invalid-message', 'DeviceName'),
  c('Authenticate missing Topic', () => checkin(authenticateWithout('Topic')), 400, 'invalid-message', 'Topic'),
  c('Authenticate with a wrong type', () => checkin(buildPlist({ ...new TestMac(t.http).authenticateMessage(), SerialNumber: 12345 })), 400, 'invalid-message', 'SerialNumber'),
  c('TokenUpdate missing Token', () => checkin(buildPlist({ MessageType: 'TokenUpdate', Topic: TOPIC, UDID: bystander.udid, PushMagic: 'X' })), 400, 'invalid-message', 'Token'),
  c('TokenUpdate before Authenticate', () => checkin(buildPlist(new TestMac(t.http).tokenUpdateMessage())), 400, 'unknown-enrollment'),
  c('check-in naming no device', () => checkin(buildPlist({ MessageType: 'CheckOut', Topic: TOPIC })), 400, 'missing-udid'),
  c('connect from an unknown enrollment', () => connect(buildPlist({ UDID: 'NOT-ENROLLED', Status: 'Idle' })), 400, 'unknown-enrollment'),
  c('a result for an unknown CommandUUID', () => connect(buildPlist({ UDID: bystander.udid, Status: 'Acknowledged', CommandUUID: 'NEVER-QUEUED' })), 400, 'unknown-command', 'CommandUUID'),
  c('a result for another device\'s command', () => connect(buildPlist({ UDID: other.udid, Status: 'Acknowledged', CommandUUID: 'BYSTANDER-CMD', ProfileList: [] })), 400, 'unknown-command', 'CommandUUID'),
  c('a result for another device\'s command, not checked against that command\'s schema', () => connect(buildPlist({ UDID: other.udid, Status: 'Acknowledged', CommandUUID: 'BYSTANDER-CMD' })), 400, 'unknown-command', 'CommandUUID'),
  c('an unknown Status', () => connect(buildPlist({ UDID: bystander.udid, Status: 'Done' })), 400, 'bad-status', 'Status'),
  c('a report without CommandUUID', () => connect(buildPlist({ UDID: bystander.udid, Status: 'Acknowledged' })), 400, 'missing-command-uuid', 'CommandUUID'),
  c('an ErrorChain of the wrong shape', () => connect(buildPlist({ UDID: bystander.udid, Status: 'Error', CommandUUID: 'BYSTANDER-CMD', ErrorChain: 'oops' })), 400, 'invalid-message', 'ErrorChain'),
  c('a check-in sent to the connect endpoint', () => connect(buildPlist(new TestMac(t.http).authenticateMessage()), CHECKIN_CONTENT_TYPE), 415, 'bad-content-type', 'Content-Type'),
  c('a wrong Content-Type', () => checkin(buildPlist({ MessageType: 'CheckOut', UDID: 'X', Topic: TOPIC }), 'text/plain'), 415, 'bad-content-type', 'Content-Type'),
  c('no Content-Type at /mdm', () => t.http.send('PUT', '/mdm', buildPlist({ UDID: 'X', Status: 'Idle' })), 415, 'bad-content-type'),
  c('an empty body', () => checkin(''), 400, 'empty-body'),
  c('GET on an MDM endpoint', () => t.http.send('GET', '/mdm/connect'), 405, 'method-not-allowed'),
  c('an oversized body (Content-Length)', () => checkin(Buffer.alloc(LIMIT + 1, 0x20)), 413, 'body-too-large'),
];

describe('bad input on the MDM endpoints', () => {
  it.each(cases)('$name → $status $code', async ({ send, status, code, field }) => {
    const before = snapshot(bystander.udid);
    const lastEvent = t.server.events.query({}).at(-1)?.id ?? 0;
    const r = await send();
    expect(r.status).toBe(status);
    expect(r.status).not.toBe(401);
    const body = JSON.parse(r.body.toString());
    expect(body.error.code).toBe(code);
    expect(body.error.message).toEqual(expect.any(String));
    if (field) expect(body.error.field).toContain(field);
    const rejected = t.server.events.query({ afterId: lastEvent, types: ['mdm.rejected'] });
    expect(rejected).toHaveLength(1);
    expect(rejected[0]!.data).toMatchObject({ status, code });
    expect(snapshot(bystander.udid)).toBe(before);
  });

  it('an oversized streamed body (no Content-Length) gets 413 as soon as it passes the limit', async () => {
    const before = snapshot(bystander.udid);
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(new URL('/mdm/checkin', t.server.url), { method: 'PUT', ca: t.http.agent.options.ca, headers: { 'content-type': CHECKIN_CONTENT_TYPE, 'transfer-encoding': 'chunked' } }, (res) => {
        res.resume();
        resolve(res.statusCode!);
      });
      // The server closes the socket once it has answered; a write error after the answer is expected.
      req.on('error', (e) => setTimeout(() => reject(e), 500));
      const chunk = Buffer.alloc(16 * 1024, 0x20);
      // Keep writing past the limit; the server must answer without waiting for the end.
      let sent = 0;
      const pump = () => {
        while (sent < LIMIT * 8) {
          sent += chunk.length;
          if (!req.write(chunk)) return req.once('drain', pump);
        }
      };
      pump();
    });
    expect(status).toBe(413);
    expect(snapshot(bystander.udid)).toBe(before);
  });

  it('the bystander still works after all of that', async () => {
    expect((await bystander.idle())?.CommandUUID).toBe('BYSTANDER-CMD');
  });
});
