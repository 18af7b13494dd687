/**
 * A deliberately lean HTTP/1.1 client over one keep-alive TLS socket: write a request, read
 * one response (Content-Length framed). Far cheaper per request than node:https, so on a
 * 2-core machine the server, not the load generator, is what a benchmark measures.
 */
import { connect, type TLSSocket } from 'node:tls';

export interface RawResponse {
  status: number;
  body: Buffer;
}

export class RawHttpsConnection {
  private socket!: TLSSocket;
  private buffer: Buffer = Buffer.alloc(0);
  private waiting?: { resolve: (r: RawResponse) => void; reject: (e: Error) => void };

  private constructor(
    private readonly host: string,
    private readonly port: number,
    private readonly ca: Buffer,
  ) {}

  static async open(host: string, port: number, ca: Buffer): Promise<RawHttpsConnection> {
    const c = new RawHttpsConnection(host, port, ca);
    await new Promise<void>((resolve, reject) => {
      c.socket = connect({ host, port, ca, servername: 'localhost' }, () => resolve());
      c.socket.once('error', reject);
    });
    c.socket.setNoDelay(true);
    c.socket.on('data', (chunk: Buffer) => c.onData(chunk));
    c.socket.on('error', (e) => c.waiting?.reject(e));
    c.socket.on('close', () => c.waiting?.reject(new Error('connection closed')));
    return c;
  }

  request(method: string, path: string, headers: Record<string, string>, body: Buffer): Promise<RawResponse> {
    let head = `${method} ${path} HTTP/1.1\r\nhost: ${this.host}:${this.port}\r\ncontent-length: ${body.length}\r\n`;
    for (const [k, v] of Object.entries(headers)) head += `${k}: ${v}\r\n`;
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.socket.write(Buffer.concat([Buffer.from(`${head}\r\n`), body]));
    });
  }

  private onData(chunk: Buffer): void {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    const end = this.buffer.indexOf('\r\n\r\n');
    if (end < 0) return;
    const head = this.buffer.toString('latin1', 0, end);
    const status = Number(head.slice(9, 12));
    const m = /\r\ncontent-length:\s*(\d+)/i.exec(head);
    const length = m ? Number(m[1]) : 0;
    if (this.buffer.length < end + 4 + length) return;
    const body = this.buffer.subarray(end + 4, end + 4 + length);
    this.buffer = this.buffer.subarray(end + 4 + length);
    const w = this.waiting;
    this.waiting = undefined;
    w?.resolve({ status, body });
  }

  close(): void {
    this.socket.destroy();
  }
}
