/**
 * A deliberately lean HTTP/2 provider client for the APNs benchmark: one TLS socket (ALPN h2,
 * the push certificate as client certificate), requests written as pre-encoded frames, and
 * responses read only as far as "200 or not, and is the stream over". Several times cheaper
 * per request than node:http2's client, so that on a 2-core machine the server, not the load
 * generator, is what bench/apns.ts measures (as bench/lib/raw-client.ts does for HTTP/1.1).
 *
 * What it speaks: the connection preface and SETTINGS (push disabled, large windows), SETTINGS
 * and PING acknowledgements, connection-level flow control for what it sends, HEADERS (+
 * END_HEADERS) and DATA (+ END_STREAM) per request, and on the way back HEADERS, DATA,
 * RST_STREAM and GOAWAY. HPACK: the header fields that never change are sent once per
 * connection as "literal with incremental indexing" and indexed from the dynamic table after
 * that, as a real client's encoder does; :path (one per device token) is a literal without
 * indexing. A response's :status is read from its first header field only: 200 is static
 * table entry 8, so the first byte of a 200's block is 0x88 whatever the server's table holds.
 */
import { connect, type TLSSocket } from 'node:tls';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const DATA = 0x0;
const HEADERS = 0x1;
const RST_STREAM = 0x3;
const SETTINGS = 0x4;
const PING = 0x6;
const GOAWAY = 0x7;
const WINDOW_UPDATE = 0x8;
const END_STREAM = 0x1;
const ACK = 0x1;
const END_HEADERS = 0x4;
const PADDED = 0x8;
const PRIORITY = 0x20;
const BIG_WINDOW = 1 << 30;

/** Called once per stream: whether it was answered 200, and its :status first byte otherwise. */
export type Completion = (streamId: number, ok: boolean) => void;

export interface RawH2Options {
  host: string;
  port: number;
  ca: string;
  cert: string;
  key: string;
  /** Header fields sent with every request (besides :method, :scheme, :authority, :path). */
  headers: [string, string][];
  onComplete: Completion;
}

function frameHeader(length: number, type: number, flags: number, stream: number): Buffer {
  const b = Buffer.allocUnsafe(9);
  b.writeUIntBE(length, 0, 3);
  b[3] = type;
  b[4] = flags;
  b.writeUInt32BE(stream, 5);
  return b;
}

/** HPACK integer with an n-bit prefix, the prefix's high bits set to `mask`. */
function hpackInt(value: number, prefixBits: number, mask: number): number[] {
  const max = (1 << prefixBits) - 1;
  if (value < max) return [mask | value];
  const out = [mask | max];
  value -= max;
  while (value >= 128) {
    out.push((value & 0x7f) | 0x80);
    value >>>= 7;
  }
  out.push(value);
  return out;
}

function hpackString(s: string): Buffer {
  const bytes = Buffer.from(s, 'latin1');
  return Buffer.concat([Buffer.from(hpackInt(bytes.length, 7, 0)), bytes]);
}

export class RawH2Session {
  private socket!: TLSSocket;
  private buffer: Buffer = Buffer.alloc(0);
  private nextStream = 1;
  private sendWindow = 65_535;
  private readonly out: Buffer[] = [];
  private flushing = false;
  /** Requests waiting for connection window (only if the server is slow to send WINDOW_UPDATE). */
  private readonly waiting: (() => void)[] = [];
  /**
   * Header block of the constant fields, around :path (pseudo-headers first): literals on the
   * first request, indexes into the server's dynamic table afterwards.
   */
  private readonly literal: [Buffer, Buffer];
  private readonly indexed: [Buffer, Buffer];
  private sentFirst = false;
  closed = false;

  private constructor(private readonly options: RawH2Options) {
    const fixed: [string, string][] = [[':authority', `${options.host}:${options.port}`], ...options.headers];
    // :method POST (static 3), :scheme https (static 7), then each fixed field as a literal with
    // incremental indexing (new name), which the server's decoder adds to its dynamic table.
    const lit = fixed.map(([n, v]) => Buffer.concat([Buffer.from([0x40]), hpackString(n), hpackString(v)]));
    this.literal = [Buffer.concat([Buffer.from([0x83, 0x87]), lit[0]!]), Buffer.concat(lit.slice(1))];
    // After the first request they sit at dynamic indexes 62 (newest) … 62 + k − 1 (oldest).
    const k = fixed.length;
    const idx = fixed.map((_, i) => Buffer.from(hpackInt(62 + (k - 1 - i), 7, 0x80)));
    this.indexed = [Buffer.concat([Buffer.from([0x83, 0x87]), idx[0]!]), Buffer.concat(idx.slice(1))];
  }

  static async open(options: RawH2Options): Promise<RawH2Session> {
    const s = new RawH2Session(options);
    await new Promise<void>((resolve, reject) => {
      s.socket = connect({ host: options.host, port: options.port, ca: options.ca, cert: options.cert, key: options.key, ALPNProtocols: ['h2'] }, () => {
        if (s.socket.alpnProtocol !== 'h2') reject(new Error(`the server chose ${s.socket.alpnProtocol}, not h2`));
        else resolve();
      });
      s.socket.once('error', reject);
    });
    s.socket.setNoDelay(true);
    s.socket.on('data', (chunk: Buffer) => s.onData(chunk));
    s.socket.on('error', () => undefined);
    s.socket.on('close', () => {
      s.closed = true;
    });
    // Preface, our SETTINGS (ENABLE_PUSH 0, INITIAL_WINDOW_SIZE 2^30), and a large connection window.
    const settings = Buffer.alloc(12);
    settings.writeUInt16BE(0x2, 0);
    settings.writeUInt32BE(0, 2);
    settings.writeUInt16BE(0x4, 6);
    settings.writeUInt32BE(BIG_WINDOW, 8);
    const wu = Buffer.alloc(4);
    wu.writeUInt32BE(BIG_WINDOW - 65_535, 0);
    s.socket.write(Buffer.concat([PREFACE, frameHeader(12, SETTINGS, 0, 0), settings, frameHeader(4, WINDOW_UPDATE, 0, 0), wu]));
    return s;
  }

  /**
   * Sends POST `pathBlock` with `body`; returns the stream id. `pathBlock` is the :path field
   * already HPACK-encoded (see encodePath). Frames are written in one batch per event-loop turn.
   */
  request(pathBlock: Buffer, body: Buffer): number {
    const stream = this.nextStream;
    this.nextStream += 2;
    const send = () => {
      const [head, tail] = this.sentFirst ? this.indexed : this.literal;
      this.sentFirst = true;
      const blockLength = head.length + pathBlock.length + tail.length;
      const frame = Buffer.allocUnsafe(9 + blockLength + 9 + body.length);
      frame.writeUIntBE(blockLength, 0, 3);
      frame[3] = HEADERS;
      frame[4] = END_HEADERS;
      frame.writeUInt32BE(stream, 5);
      head.copy(frame, 9);
      pathBlock.copy(frame, 9 + head.length);
      tail.copy(frame, 9 + head.length + pathBlock.length);
      const d = 9 + blockLength;
      frame.writeUIntBE(body.length, d, 3);
      frame[d + 3] = DATA;
      frame[d + 4] = END_STREAM;
      frame.writeUInt32BE(stream, d + 5);
      body.copy(frame, d + 9);
      this.sendWindow -= body.length;
      this.write(frame);
    };
    // Streams must be opened in increasing order: once one waits for window, all do.
    if (this.waiting.length > 0 || this.sendWindow < body.length) this.waiting.push(send);
    else send();
    return stream;
  }

  close(): void {
    this.closed = true;
    this.socket.destroy();
  }

  private write(b: Buffer): void {
    this.out.push(b);
    if (this.flushing) return;
    this.flushing = true;
    setImmediate(() => {
      this.flushing = false;
      if (this.closed) return;
      const all = this.out.length === 1 ? this.out[0]! : Buffer.concat(this.out);
      this.out.length = 0;
      this.socket.write(all);
    });
  }

  private onData(chunk: Buffer): void {
    let buf = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    let at = 0;
    while (buf.length - at >= 9) {
      const length = buf.readUIntBE(at, 3);
      if (buf.length - at < 9 + length) break;
      const type = buf[at + 3]!;
      const flags = buf[at + 4]!;
      const stream = buf.readUInt32BE(at + 5) & 0x7fffffff;
      const p = at + 9;
      at = p + length;
      switch (type) {
        case HEADERS: {
          let q = p;
          if (flags & PADDED) q += 1;
          if (flags & PRIORITY) q += 5;
          // Skip dynamic table size updates (001xxxxx), then read the first field.
          while (q < at && (buf[q]! & 0xe0) === 0x20) {
            if ((buf[q]! & 0x1f) === 0x1f) while (q + 1 < at && buf[++q]! & 0x80);
            q++;
          }
          const ok = buf[q] === 0x88;
          if (!ok || (flags & END_STREAM) !== 0) this.options.onComplete(stream, ok);
          // A non-200 carries a JSON body: the stream is reported once, here; its DATA is ignored.
          if (!ok) this.failed.add(stream);
          break;
        }
        case DATA:
          if (flags & END_STREAM) {
            if (!this.failed.delete(stream)) this.options.onComplete(stream, true);
          }
          break;
        case RST_STREAM:
          if (!this.failed.delete(stream)) this.options.onComplete(stream, false);
          break;
        case SETTINGS:
          if (!(flags & ACK)) this.write(frameHeader(0, SETTINGS, ACK, 0));
          break;
        case PING:
          if (!(flags & ACK)) this.write(Buffer.concat([frameHeader(8, PING, ACK, 0), buf.subarray(p, p + 8)]));
          break;
        case WINDOW_UPDATE:
          if (stream === 0) {
            this.sendWindow += buf.readUInt32BE(p) & 0x7fffffff;
            while (this.waiting.length > 0 && this.sendWindow > 0) this.waiting.shift()!();
          }
          break;
        case GOAWAY:
          this.closed = true;
          break;
      }
    }
    this.buffer = at === buf.length ? Buffer.alloc(0) : buf.subarray(at);
  }

  private readonly failed = new Set<number>();
}

/** :path as an HPACK literal without indexing, name from the static table (entry 4). */
export function encodePath(path: string): Buffer {
  return Buffer.concat([Buffer.from(hpackInt(4, 4, 0x00)), hpackString(path)]);
}
