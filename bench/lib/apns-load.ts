/**
 * Child process of bench/apns.ts: the provider-side load generator and, against the mock, the
 * courier subscribers, in one process so that send and receive times share a clock.
 *
 * Closed loop: `sessions` HTTP/2 connections with the push certificate, each keeping `streams`
 * pushes in flight. POST /3/device/<token> {"mdm":"<PushMagic>"}, tokens round robin. Against
 * the echo a slot is free again when its response has ended; against the mock when its
 * response has ended AND the subscriber has received the push (end to end). The PushMagic
 * carries the push's sequence number, so the subscriber finds the send time of what it got.
 *
 * Subscribers: `subscribers` WebSocket connections, hello then one subscribe frame for their
 * share of the tokens. Acknowledgements are batched: every push frame's id is collected and one
 * {"type":"ack","ids":[…]} per connection is sent at the end of the event-loop turn that read
 * them (setImmediate), i.e. after each burst of frames the socket delivered at once.
 *
 * Messages in: {cmd:'setup', config}, {cmd:'run'}, {cmd:'measure'}, {cmd:'report'}, {cmd:'drain'}, {cmd:'exit'}.
 */
import { randomBytes } from 'node:crypto';
import { connect as h2connect, type ClientHttp2Session } from 'node:http2';
import { WebSocket } from 'ws';
import { deviceTokenFor } from '../../protocol/apns';
import { encodePath, RawH2Session } from './apns-h2';

export interface LoadConfig {
  mode: 'mock' | 'echo';
  providerUrl: string;
  courierUrl?: string;
  ca: string;
  cert: string;
  key: string;
  topic: string;
  tokens: number;
  subscribers: number;
  sessions: number;
  streams: number;
  /** 'raw' (bench/lib/apns-h2.ts, the default) or 'node' (node:http2's client, to cross-check). */
  client: 'raw' | 'node';
}

export interface LoadReport {
  /** Pushes completed in the window (mock: received by a subscriber; echo: answered 200). */
  completed: number;
  seconds: number;
  /** Microseconds, push-to-delivery (mock) or request-to-response (echo). */
  p50: number;
  p99: number;
  /** Microseconds, request-to-response (both). */
  responseP50: number;
  clientCpuMicros: number;
  errors: number;
}

export interface DrainReport {
  sent: number;
  answered: number;
  received: number;
  acked: number;
  errors: number;
  errorFrames: string[];
  stuck: number;
}

const RING = 1 << 20;
const MAX_SAMPLES = 1 << 20;
const now = () => Number(process.hrtime.bigint() / 1000n);

let config: LoadConfig;
const sendTime = new Float64Array(RING);
const sessionOf = new Int32Array(RING);
/** bit 1: answered, bit 2: received by a subscriber. */
const state = new Uint8Array(RING);
const latencies = new Float64Array(MAX_SAMPLES);
const responseLatencies = new Float64Array(MAX_SAMPLES);
let samples = 0;
let responseSamples = 0;
let measuring = false;
let stopped = false;
let windowStart = 0;
let cpuStart = process.cpuUsage();
let completedInWindow = 0;
let errorsInWindow = 0;
let nextSeq = 0;
let sent = 0;
let answered = 0;
let received = 0;
let acked = 0;
let errors = 0;
const errorFrames: string[] = [];

let bodies: (seq: number) => Buffer;
let paths: Buffer[] = [];
let pathStrings: string[] = [];
let rawSessions: RawH2Session[] = [];
let nodeSessions: ClientHttp2Session[] = [];
/** Per raw session: stream id → sequence number. */
let streamSeq: Map<number, number>[] = [];
let subscribers: WebSocket[] = [];
let inflight = 0;

/** PushMagic is a UUID whose last group is the sequence number (hex). */
function magicOf(seq: number): string {
  return `00000000-0000-4000-8000-${seq.toString(16).padStart(12, '0')}`;
}

function fire(s: number): void {
  if (stopped) return;
  const seq = nextSeq++;
  const slot = seq % RING;
  const token = seq % config.tokens;
  state[slot] = 0;
  sessionOf[slot] = s;
  sendTime[slot] = now();
  sent++;
  inflight++;
  if (config.client === 'raw') {
    const stream = rawSessions[s]!.request(paths[token]!, bodies(seq));
    streamSeq[s]!.set(stream, seq);
  } else {
    const req = nodeSessions[s]!.request({ ':method': 'POST', ':path': pathStrings[token]!, ...headerObject });
    let status = 0;
    req.on('response', (h) => {
      status = Number(h[':status']);
    });
    req.on('error', () => undefined);
    req.on('close', () => answer(seq, status === 200));
    req.resume();
    req.end(bodies(seq));
  }
}

let headerObject: Record<string, string> = {};

function answer(seq: number, ok: boolean): void {
  const slot = seq % RING;
  answered++;
  if (measuring) responseLatencies[responseSamples++ % MAX_SAMPLES] = now() - sendTime[slot]!;
  if (!ok) {
    errors++;
    if (measuring) errorsInWindow++;
    // Refused: it will never reach a subscriber, the slot is free.
    state[slot] = 3;
    done(seq);
    return;
  }
  state[slot]! |= 1;
  if (config.mode === 'echo' || state[slot] === 3) done(seq);
}

function deliver(seq: number): void {
  const slot = seq % RING;
  received++;
  if (measuring) latencies[samples++ % MAX_SAMPLES] = now() - sendTime[slot]!;
  state[slot]! |= 2;
  if (state[slot] === 3) done(seq);
}

function done(seq: number): void {
  inflight--;
  if (measuring) {
    completedInWindow++;
    if (config.mode === 'echo') latencies[samples++ % MAX_SAMPLES] = now() - sendTime[seq % RING]!;
  }
  fire(sessionOf[seq % RING]!);
}

const PUSH_PREFIX = '{"type":"push","id":';
const MAGIC_MARK = '"mdm":"00000000-0000-4000-8000-';

/** One courier subscriber: reads push frames with indexOf (no JSON.parse), acks in batches. */
async function subscriber(url: string, devices: { topic: string; secret: string }[], label: string): Promise<WebSocket> {
  const ws = new WebSocket(url, { perMessageDeflate: false });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  ws.on('error', () => undefined);
  let ids: number[] = [];
  let subscribed: (v: unknown) => void = () => undefined;
  let welcomed: (v: unknown) => void = () => undefined;
  const flush = () => {
    if (ids.length === 0 || ws.readyState !== WebSocket.OPEN) return;
    ws.send(`{"type":"ack","ids":[${ids.join(',')}]}`);
    acked += ids.length;
    ids = [];
  };
  ws.on('message', (data: Buffer) => {
    const text = data.toString('latin1');
    if (text.startsWith(PUSH_PREFIX)) {
      const id = parseInt(text.slice(PUSH_PREFIX.length, text.indexOf(',', PUSH_PREFIX.length)), 10);
      const m = text.indexOf(MAGIC_MARK);
      const seq = parseInt(text.slice(m + MAGIC_MARK.length, m + MAGIC_MARK.length + 12), 16);
      if (ids.length === 0) setImmediate(flush);
      ids.push(id);
      deliver(seq);
      return;
    }
    const frame = JSON.parse(text) as { type: string };
    if (frame.type === 'welcome') welcomed(frame);
    else if (frame.type === 'subscribed') subscribed(frame);
    else if (errorFrames.length < 5) errorFrames.push(text.slice(0, 300));
  });
  ws.send(JSON.stringify({ type: 'hello', client: label }));
  await new Promise((r) => (welcomed = r));
  ws.send(JSON.stringify({ type: 'subscribe', id: 1, devices }));
  const r = (await new Promise<unknown>((res) => (subscribed = res))) as { tokens: (string | null)[] };
  if (r.tokens.some((t) => t === null)) throw new Error(`${label}: a subscription was refused`);
  return ws;
}

async function setup(c: LoadConfig): Promise<void> {
  config = c;
  const url = new URL(c.providerUrl);
  const devices = Array.from({ length: c.tokens }, () => {
    const secret = randomBytes(32);
    return { topic: c.topic, secret: secret.toString('base64url'), token: deviceTokenFor(c.topic, secret) };
  });
  pathStrings = devices.map((d) => `/3/device/${d.token}`);
  paths = pathStrings.map(encodePath);
  bodies = (seq) => Buffer.from(`{"mdm":"${magicOf(seq)}"}`, 'latin1');
  // What MDM servers send (nanomdm, micromdm): the topic, the push type, JSON.
  const fixed: [string, string][] = [
    ['content-type', 'application/json'],
    ['apns-topic', c.topic],
    ['apns-push-type', 'mdm'],
    ['apns-priority', '10'],
  ];
  headerObject = Object.fromEntries(fixed);
  if (c.mode === 'mock') {
    const per = Math.ceil(c.tokens / c.subscribers);
    subscribers = await Promise.all(
      Array.from({ length: c.subscribers }, (_, i) => subscriber(c.courierUrl!, devices.slice(i * per, (i + 1) * per).map(({ topic, secret }) => ({ topic, secret })), `bench-subscriber-${i}`)),
    );
  }
  if (c.client === 'raw') {
    rawSessions = await Promise.all(
      Array.from({ length: c.sessions }, (_, s) => {
        const seqs = new Map<number, number>();
        streamSeq[s] = seqs;
        return RawH2Session.open({
          host: url.hostname,
          port: Number(url.port),
          ca: c.ca,
          cert: c.cert,
          key: c.key,
          headers: fixed,
          onComplete: (stream, ok) => {
            const seq = seqs.get(stream);
            if (seq === undefined) return;
            seqs.delete(stream);
            answer(seq, ok);
          },
        });
      }),
    );
  } else {
    nodeSessions = await Promise.all(
      Array.from({ length: c.sessions }, () => {
        const session = h2connect(c.providerUrl, { ca: c.ca, cert: c.cert, key: c.key });
        session.on('error', () => undefined);
        return new Promise<ClientHttp2Session>((resolve, reject) => {
          session.once('connect', () => resolve(session));
          session.once('error', reject);
        });
      }),
    );
  }
}

function percentile(values: Float64Array, n: number, p: number): number {
  if (n === 0) return NaN;
  const sorted = values.subarray(0, Math.min(n, MAX_SAMPLES)).slice().sort();
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

function report(): LoadReport {
  measuring = false;
  const seconds = (now() - windowStart) / 1e6;
  const u = process.cpuUsage(cpuStart);
  return {
    completed: completedInWindow,
    seconds,
    p50: percentile(latencies, samples, 50),
    p99: percentile(latencies, samples, 99),
    responseP50: percentile(responseLatencies, responseSamples, 50),
    clientCpuMicros: u.user + u.system,
    errors: errorsInWindow,
  };
}

async function drain(): Promise<DrainReport> {
  stopped = true;
  const until = Date.now() + 3000;
  while (inflight > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  // Let the last acknowledgements leave.
  await new Promise((r) => setTimeout(r, 50));
  return { sent, answered, received, acked, errors, errorFrames, stuck: inflight };
}

process.on('disconnect', () => process.exit(0));
process.on('message', (m: { cmd: string; config?: LoadConfig }) => {
  void (async () => {
    try {
      if (m.cmd === 'setup') {
        await setup(m.config!);
        process.send!({ ready: true });
      } else if (m.cmd === 'run') {
        for (let s = 0; s < config.sessions; s++) for (let i = 0; i < config.streams; i++) fire(s);
        process.send!({ running: true });
      } else if (m.cmd === 'measure') {
        completedInWindow = 0;
        errorsInWindow = 0;
        samples = 0;
        responseSamples = 0;
        cpuStart = process.cpuUsage();
        windowStart = now();
        measuring = true;
        process.send!({ measuring: true });
      } else if (m.cmd === 'report') {
        process.send!(report());
      } else if (m.cmd === 'drain') {
        process.send!(await drain());
      } else if (m.cmd === 'exit') {
        for (const s of rawSessions) s.close();
        for (const s of nodeSessions) s.destroy();
        for (const ws of subscribers) ws.terminate();
        process.exit(0);
      }
    } catch (error) {
      console.error(error);
      process.exit(1);
    }
  })();
});
