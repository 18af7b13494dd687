/**
 * XML's dangerous corners in plists, at every place the server parses one (the two MDM
 * endpoints and a raw command plist on the control API): entity expansion, external entities
 * and DTDs, prototype keys, deep nesting, encodings and binary plists with lying offsets.
 * Each is refused with a 400 (or, where the plist is legitimate, accepted), nothing is fetched
 * or read from disk, no other device changes and the server keeps serving.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CHECKIN_CONTENT_TYPE } from '../../protocol/checkin';
import { COMMAND_CONTENT_TYPE } from '../../protocol/command';
import { TestMac } from '../helpers/mdm-client';
import { errorOf, startAbuseServer, type AbuseServer } from './support';

let t: AbuseServer;
let mac: TestMac;
let bait: Server;
let baitHits = 0;
let baitUrl = '';

beforeAll(async () => {
  t = await startAbuseServer({ maxBodyBytes: 1024 * 1024 });
  mac = new TestMac(t.http);
  await mac.enroll();
  // An external DTD or entity pointing here would show up as a hit: the server must never fetch.
  bait = createServer((_req, res) => {
    baitHits++;
    res.end('<!ENTITY x "fetched">');
  });
  await new Promise<void>((r) => bait.listen(0, '127.0.0.1', () => r()));
  baitUrl = `http://127.0.0.1:${(bait.address() as AddressInfo).port}/evil.dtd`;
});
afterAll(async () => {
  await new Promise<void>((r) => bait.close(() => r()));
  await t.stop();
});

const idleOf = (udid: string, extra = '') => `<dict><key>UDID</key><string>${udid}</string><key>Status</key><string>Idle</string>${extra}</dict>`;
const wrap = (doctype: string, body: string) => `<?xml version="1.0" encoding="UTF-8"?>\n${doctype}\n<plist version="1.0">${body}</plist>`;

interface Trick {
  name: string;
  /** The plist, given the device it names and the bait URL. */
  plist: (udid: string) => string | Buffer;
  /** What the server must answer at /mdm/connect: a 400 with this code, or 200 for a legitimate plist. */
  connect: string | 200;
  /** The 400's code at /mdm/checkin and on the control API, when not the same as at connect. */
  checkin?: string;
  command?: string;
}

const laughs = (levels: number) => {
  let decls = '<!ENTITY lol0 "lol">';
  for (let i = 1; i <= levels; i++) decls += `<!ENTITY lol${i} "${`&lol${i - 1};`.repeat(10)}">`;
  return decls;
};

const tricks: Trick[] = [
  { name: 'billion laughs (9 levels of 10)', plist: (u) => wrap(`<!DOCTYPE plist [${laughs(9)}]>`, idleOf(u, '<key>X</key><string>&lol9;</string>')), connect: 'malformed-plist' },
  { name: 'quadratic blow-up (one 50 KB entity used 1,000 times)', plist: (u) => wrap(`<!DOCTYPE plist [<!ENTITY big "${'A'.repeat(50_000)}">]>`, idleOf(u, `<key>X</key><string>${'&big;'.repeat(1000)}</string>`)), connect: 'malformed-plist' },
  { name: 'external entity on a local file (XXE)', plist: (u) => wrap('<!DOCTYPE plist [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>', idleOf(u, '<key>X</key><string>&xxe;</string>')), connect: 'malformed-plist' },
  { name: 'external entity over HTTP', plist: (u) => wrap(`<!DOCTYPE plist [<!ENTITY xxe SYSTEM "${baitUrl}">]>`, idleOf(u, '<key>X</key><string>&xxe;</string>')), connect: 'malformed-plist' },
  { name: 'parameter entity pulling an external DTD', plist: (u) => wrap(`<!DOCTYPE plist [<!ENTITY % ext SYSTEM "${baitUrl}"> %ext;]>`, idleOf(u)), connect: 'malformed-plist' },
  { name: 'an internal subset with no entities at all', plist: (u) => wrap('<!DOCTYPE plist [<!ELEMENT plist ANY>]>', idleOf(u)), connect: 'malformed-plist' },
  { name: 'an undeclared entity reference', plist: (u) => wrap('', idleOf(u, '<key>X</key><string>&undeclared;</string>')), connect: 'malformed-plist' },
  { name: 'a character reference to NUL', plist: (u) => wrap('', idleOf(u, '<key>X</key><string>&#0;</string>')), connect: 'malformed-plist' },
  { name: 'a character reference past Unicode', plist: (u) => wrap('', idleOf(u, '<key>X</key><string>&#x110000;</string>')), connect: 'malformed-plist' },
  // Apple's own DOCTYPE names an external DTD by URL: it is accepted and, like any parser that does not validate, never fetched.
  { name: "Apple's DOCTYPE with an external DTD URL pointing at the bait", plist: (u) => wrap(`<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "${baitUrl}">`, idleOf(u)), connect: 200 },
  { name: 'a SYSTEM DOCTYPE on a local file', plist: (u) => wrap('<!DOCTYPE plist SYSTEM "file:///etc/passwd">', idleOf(u)), connect: 200 },
  { name: 'predefined entities and CDATA (legitimate)', plist: (u) => wrap('', idleOf(u, '<key>X</key><string>&lt;&amp;&gt;&quot;&apos;<![CDATA[<not a tag>]]></string>')), connect: 200 },
  { name: 'comments and processing instructions (legitimate)', plist: (u) => `<?xml version="1.0"?><?evil pi?><!-- a comment --><plist version="1.0"><!-- x -->${idleOf(u)}</plist>`, connect: 200 },
  // Not well-formed XML, but harmless: the parser is lenient here, as Apple's is with real devices' output.
  { name: 'a comment with -- inside (tolerated)', plist: (u) => `<?xml version="1.0"?><!-- a -- b --><plist version="1.0">${idleOf(u)}</plist>`, connect: 200 },
  { name: '__proto__ and constructor as keys (legitimate keys, no prototype change)', plist: (u) => wrap('', idleOf(u, '<key>__proto__</key><dict><key>polluted</key><true/></dict><key>constructor</key><dict><key>prototype</key><dict><key>polluted</key><true/></dict></dict>')), connect: 200 },
  { name: '50,000 levels of <array>', plist: (u) => wrap('', idleOf(u, `<key>X</key>${'<array>'.repeat(50_000)}${'</array>'.repeat(50_000)}`)), connect: 'malformed-plist' },
  { name: '257 levels of <dict>', plist: (u) => wrap('', idleOf(u, `<key>X</key>${'<dict><key>k</key>'.repeat(257)}<true/>${'</dict>'.repeat(257)}`)), connect: 'malformed-plist' },
  { name: '20,000 keys (legitimate, if large)', plist: (u) => wrap('', idleOf(u, Array.from({ length: 20_000 }, (_, i) => `<key>k${i}</key><integer>${i}</integer>`).join(''))), connect: 200 },
  // Signed by the Mac the first UDID names; the server reads the last, the bystander's, and the signer is not its.
  { name: 'UDID twice, signed by the first, the second the bystander', plist: (u) => wrap('', `<dict><key>UDID</key><string>${u}</string><key>Status</key><string>Idle</string><key>UDID</key><string>${t.bystander.udid}</string></dict>`), connect: 'certificate-not-bound', checkin: 'missing-message-type', command: 'missing-command' },
  { name: 'an integer past 64 bits', plist: (u) => wrap('', idleOf(u, '<key>X</key><integer>99999999999999999999999999</integer>')), connect: 'malformed-plist' },
  { name: 'a real that is not a number', plist: (u) => wrap('', idleOf(u, '<key>X</key><real>1e99999</real>')), connect: 200 },
  { name: 'data that is not base64', plist: (u) => wrap('', idleOf(u, '<key>X</key><data>!!!not base64***</data>')), connect: 'malformed-plist' },
  { name: 'a date that is not a date', plist: (u) => wrap('', idleOf(u, '<key>X</key><date>yesterday</date>')), connect: 'malformed-plist' },
  { name: 'UTF-16 with a BOM', plist: (u) => Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(`<?xml version="1.0" encoding="UTF-16"?><plist version="1.0">${idleOf(u)}</plist>`, 'utf16le')]), connect: 'malformed-plist' },
  { name: 'bytes that are not UTF-8 inside a string', plist: (u) => Buffer.concat([Buffer.from(wrap('', idleOf(u, '<key>X</key><string>')).replace('</plist>', '').replace('</dict>', '')), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('</string></dict></plist>')]), connect: 'malformed-plist' },
  { name: 'a NUL byte inside a tag', plist: (u) => wrap('', idleOf(u).replace('<key>Status', '<ke\u0000y>Status')), connect: 'malformed-plist' },
  { name: 'a second root element', plist: (u) => wrap('', `${idleOf(u)}${idleOf(t.bystander.udid)}`), connect: 'malformed-plist' },
  { name: 'binary plist with a cyclic reference', plist: () => cyclicBplist(), connect: 'malformed-plist' },
  { name: 'binary plist whose trailer claims 2^40 objects', plist: () => lyingBplist(), connect: 'malformed-plist' },
  { name: 'binary plist cut short', plist: () => Buffer.from('bplist00\xd1\x01\x02', 'latin1'), connect: 'malformed-plist' },
];

/** bplist00: a dict whose only value is the dict itself. */
function cyclicBplist(): Buffer {
  // objects: 0 = dict {1: 0}, 1 = "k"
  const objects = [Buffer.from([0xd1, 0x01, 0x00]), Buffer.from([0x51, 0x6b])];
  return bplist(objects, 0);
}

function lyingBplist(): Buffer {
  const b = bplist([Buffer.from([0x51, 0x6b])], 0);
  // numObjects (8 bytes at trailer offset 8) set absurdly high.
  b.writeBigUInt64BE(1n << 40n, b.length - 24);
  return b;
}

function bplist(objects: Buffer[], top: number): Buffer {
  const header = Buffer.from('bplist00', 'latin1');
  const offsets: number[] = [];
  let at = header.length;
  for (const o of objects) {
    offsets.push(at);
    at += o.length;
  }
  const table = Buffer.from(offsets);
  const trailer = Buffer.alloc(32);
  trailer[6] = 1; // offset int size
  trailer[7] = 1; // object ref size
  trailer.writeBigUInt64BE(BigInt(objects.length), 8);
  trailer.writeBigUInt64BE(BigInt(top), 16);
  trailer.writeBigUInt64BE(BigInt(at), 24);
  return Buffer.concat([header, ...objects, table, trailer]);
}

/** Signed by the test Mac: every trick names it (the duplicate-UDID one names it first). */
const signed = (body: string | Buffer) => ({ 'mdm-signature': mac.signer!.sign(Buffer.isBuffer(body) ? body : Buffer.from(body)) });

describe('XML and binary plist tricks', () => {
  it.each(tricks)('$name → /mdm/connect answers $connect; checkin and the control API refuse or accept alike', async (trick) => {
    const { plist, connect: expected } = trick;
    const before = t.snapshot();
    const hits = baitHits;
    const body = plist(mac.udid);

    const r = await t.http.send('PUT', '/mdm/connect', body, { 'content-type': COMMAND_CONTENT_TYPE, ...signed(body) });
    if (expected === 200) {
      expect(r.status).toBe(200);
    } else {
      expect(r.status).toBe(400);
      expect(errorOf(r.body).code).toBe(expected);
    }
    expect(r.body.toString('latin1')).not.toMatch(/root:|fetched/);

    // The check-in endpoint parses the same way; this plist is no check-in, so never a 200.
    const c = await t.http.send('PUT', '/mdm/checkin', body, { 'content-type': CHECKIN_CONTENT_TYPE, ...signed(body) });
    expect(c.status).toBe(400);
    expect(errorOf(c.body).code).toBe(trick.checkin ?? (expected === 200 ? 'missing-message-type' : expected));

    // A raw command plist on the control API, for the same device: a 4xx (it is no command) or, if parsed, a queued command.
    const q = await t.http.send('PUT', `/sim/v1/devices/${mac.udid}/commands?push=false`, body, { authorization: `Bearer ${t.token}`, 'content-type': 'application/x-apple-plist' });
    expect(q.status).toBeGreaterThanOrEqual(400);
    expect(q.status).toBeLessThan(500);
    expect(errorOf(q.body).code).toBe(trick.command ?? (expected === 200 ? 'missing-command' : expected));

    expect(baitHits).toBe(hits);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(t.errors).toEqual([]);
    expect(t.snapshot()).toBe(before);
  });

  it('the server still serves, and the bait was never fetched', async () => {
    expect(baitHits).toBe(0);
    await t.expectStillServes();
  });
});
