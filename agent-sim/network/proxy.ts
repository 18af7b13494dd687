/**
 * The fleet's in-process network box: a real HTTP CONNECT proxy on loopback (started on demand),
 * which is also the TLS inspector. Each Mac identifies itself as a corporate proxy's users do, with
 * Proxy-Authorization (Basic, its UDID), so the one proxy applies each Mac's own policy:
 *
 *   - an allow-list that does not list host:port: `403 Forbidden`, nothing is forwarded;
 *   - no inspection, or an exempt host: a plain TCP tunnel to the server (the Mac sees the
 *     server's own certificate);
 *   - inspection: `200`, then the Mac's TLS ends here, with a leaf for the name minted by the
 *     inspection CA; the inspector opens its own TLS to the server (checking the server's
 *     certificate against the fleet's CA, as inspection gear checks upstream) and relays the
 *     decrypted bytes both ways.
 *
 * Names are looked up through the Macs' resolver: the proxy is on their network. Every CONNECT is
 * an event for the Mac that made it (`network.proxy.connect`: host, port, outcome, and what the
 * connection is for: enrollment, mdm, agent or download).
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, createSecureContext, TLSSocket, type SecureContext } from 'node:tls';
import type { Duplex } from 'node:stream';
import type { Resolver } from './resolver';
import { exemptFromInspection, reachable, type EffectivePolicy } from './policy';
import type { InspectionCa } from './inspection-ca';
import type { RequestPurpose } from '../http';

export type ConnectOutcome = 'tunnel' | 'inspected' | 'blocked' | 'failed';

/** What a Mac's connection is for, as its CONNECT says (`X-Mdmsim-For`): the events tell MDM from the agent on the same device domain. */
export type ConnectFor = 'enrollment' | 'mdm' | 'agent' | 'download';
const CONNECT_FOR: readonly ConnectFor[] = ['enrollment', 'mdm', 'agent', 'download'];
/**
 * The lab's own CONNECT header naming what the tunnel is for. A real Mac sends nothing like it (its
 * User-Agent is the nearest thing); it is bookkeeping for the events, never used for a decision.
 */
export const CONNECT_FOR_HEADER = 'x-mdmsim-for';

/** What a Mac's request purpose is, to the proxy. */
export function connectFor(purpose: RequestPurpose): ConnectFor {
  return purpose === 'profile' ? 'enrollment' : purpose === 'manifest' || purpose === 'package' ? 'download' : purpose;
}

export interface FleetProxyOptions {
  resolver: Resolver;
  /** Certificates (PEM) the inspector trusts for its own connections to servers. */
  upstreamCa: string[];
  /** The inspection CA (made by the caller once, on the first inspecting policy). */
  inspectionCa: () => Promise<InspectionCa>;
  /** The policy in force for a client (a Mac's UDID), or undefined for an unknown client. */
  policyOf(client: string): EffectivePolicy | undefined;
  emit(client: string, type: string, summary: string, data: Record<string, unknown>): void;
  onError?: (error: unknown) => void;
  /** Connecting to a server gives up after this long (default 30 s). */
  connectTimeoutMs?: number;
}

const REALM = 'mdmsim network lab';

type Emit = (outcome: ConnectOutcome, summary: string, more?: Record<string, unknown>) => void;

export class FleetProxy {
  private readonly sockets = new Set<Duplex>();
  private readonly upstream: SecureContext;
  private closed = false;
  /** CONNECTs answered, by outcome. */
  readonly counts: Record<ConnectOutcome, number> = { tunnel: 0, inspected: 0, blocked: 0, failed: 0 };

  private constructor(
    private readonly server: Server,
    readonly port: number,
    private readonly options: FleetProxyOptions,
  ) {
    this.upstream = createSecureContext({ ca: options.upstreamCa });
  }

  static async start(options: FleetProxyOptions): Promise<FleetProxy> {
    const server = createServer((req, res) => {
      // Macs only tunnel HTTPS; a plain proxied request is not what this box does.
      res.writeHead(405, { 'content-type': 'text/plain', allow: 'CONNECT' }).end('this proxy only tunnels (CONNECT host:port)\n');
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
    const proxy = new FleetProxy(server, (server.address() as { port: number }).port, options);
    server.on('connect', (req: IncomingMessage, socket: Socket, head: Buffer) => proxy.onConnect(req, socket, head));
    server.on('clientError', (_error, socket) => socket.destroy());
    return proxy;
  }

  /** The Proxy-Authorization header a client sends. */
  static authorization(client: string): string {
    return `Basic ${Buffer.from(`${client}:`).toString('base64')}`;
  }

  private track(s: Duplex): void {
    this.sockets.add(s);
    s.once('close', () => this.sockets.delete(s));
    s.on('error', () => s.destroy());
  }

  private refuse(socket: Socket, status: number, reason: string, body: string, extra = ''): void {
    socket.end(`HTTP/1.1 ${status} ${reason}\r\ncontent-type: text/plain\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n${extra}\r\n${body}`);
  }

  private onConnect(req: IncomingMessage, socket: Socket, head: Buffer): void {
    this.track(socket);
    if (this.closed) return void socket.destroy();
    const client = clientOf(req.headers['proxy-authorization']);
    const policy = client === undefined ? undefined : this.options.policyOf(client);
    if (client === undefined || policy === undefined) {
      return this.refuse(socket, 407, 'Proxy Authentication Required', 'identify with Proxy-Authorization: Basic (the Mac\'s UDID)\n', `proxy-authenticate: Basic realm="${REALM}"\r\n`);
    }
    const target = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(req.url ?? '');
    if (!target) return this.refuse(socket, 400, 'Bad Request', 'CONNECT needs host:port\n');
    const host = target[1]!.replace(/^\[(.*)\]$/, '$1').toLowerCase();
    const port = Number(target[2]);
    const where = `${host}:${port}`;
    const said = req.headers[CONNECT_FOR_HEADER];
    const purpose = CONNECT_FOR.find((x) => x === said);
    const emit: Emit = (outcome, summary, more = {}) => {
      this.counts[outcome]++;
      this.options.emit(client, 'network.proxy.connect', `CONNECT ${where}${purpose ? ` (${purpose})` : ''} → ${summary}`, { host, port, outcome, inspected: outcome === 'inspected', ...(purpose ? { for: purpose } : {}), ...more });
    };
    if (!reachable(policy, host, port)) {
      emit('blocked', '403: not on the allow-list');
      return this.refuse(socket, 403, 'Forbidden', `${where} is not on this network's allow-list\n`);
    }
    const inspect = policy.inspection !== undefined && !exemptFromInspection(policy, host);
    this.options.resolver.resolve(host).then(
      (address) => {
        // The lookup took a turn of the loop: the proxy may have closed, or the Mac hung up.
        if (this.closed || socket.destroyed) return void socket.destroy();
        if (inspect) this.inspect(socket, head, host, address, port, emit);
        else this.tunnel(socket, head, address, port, emit, policy.inspection !== undefined);
      },
      (error: Error) => {
        emit('failed', `502: ${error.message}`, { error: error.message });
        this.refuse(socket, 502, 'Bad Gateway', `${error.message}\n`);
      },
    );
  }

  private tunnel(socket: Socket, head: Buffer, address: string, port: number, emit: Emit, exempt: boolean): void {
    const upstream = netConnect({ host: address, port, timeout: this.options.connectTimeoutMs ?? 30_000 });
    this.track(upstream);
    upstream.once('timeout', () => upstream.destroy(Object.assign(new Error(`connect ETIMEDOUT ${address}:${port}`), { code: 'ETIMEDOUT' })));
    upstream.once('error', (error) => {
      emit('failed', `502: ${error.message}`, { error: error.message });
      if (!socket.destroyed) this.refuse(socket, 502, 'Bad Gateway', `${error.message}\n`);
    });
    upstream.once('connect', () => {
      upstream.setTimeout(0);
      emit('tunnel', exempt ? '200, tunnelled untouched (exempt from inspection)' : '200, tunnelled', exempt ? { exempt: true } : {});
      socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      socket.pipe(upstream).pipe(socket);
    });
    socket.once('close', () => upstream.destroy());
    upstream.once('close', () => socket.destroy());
  }

  /**
   * The inspector opens its own TLS to the server first, as the tunnel connects first: a CONNECT
   * it cannot serve is a 502 (one `failed` event), and only one the server side is up for is
   * answered 200 and counted `inspected`.
   */
  private inspect(socket: Socket, head: Buffer, host: string, address: string, port: number, emit: Emit): void {
    const timeoutMs = this.options.connectTimeoutMs ?? 30_000;
    const back = tlsConnect({ host: address, port, ...(isIP(host) === 0 ? { servername: host } : {}), secureContext: this.upstream, timeout: timeoutMs });
    this.track(back);
    let open = false;
    back.once('timeout', () => {
      if (!open) back.destroy(Object.assign(new Error(`connect ETIMEDOUT ${address}:${port}`), { code: 'ETIMEDOUT' }));
    });
    back.once('error', (error) => {
      if (open) return;
      emit('failed', `502: the inspector could not reach the server: ${error.message}`, { error: error.message });
      if (!socket.destroyed) this.refuse(socket, 502, 'Bad Gateway', `${error.message}\n`);
    });
    socket.once('close', () => back.destroy());
    back.once('secureConnect', () => {
      back.setTimeout(0);
      this.options.inspectionCa().then(
        (ca) => {
          if (this.closed || socket.destroyed) return void back.destroy();
          open = true;
          socket.write('HTTP/1.1 200 Connection Established\r\n\r\n');
          if (head.length > 0) socket.unshift(head);
          // The Mac's TLS ends here, under a leaf for the name it CONNECTed to (whatever its SNI
          // says: the proxy mints for names it let through, not for any name a client sends).
          const front = new TLSSocket(socket, { isServer: true, secureContext: ca.contextFor(host) });
          this.track(front);
          emit('inspected', '200, TLS inspected: the Mac gets a certificate from the inspection CA', { inspectionCa: ca.fingerprint256.slice(0, 16) });
          front.pipe(back).pipe(front);
          front.once('close', () => back.destroy());
          back.once('close', () => front.destroy());
        },
        (error) => {
          this.options.onError?.(error);
          back.destroy();
          socket.destroy();
        },
      );
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const s of this.sockets) s.destroy();
    this.sockets.clear();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** The UDID of `Proxy-Authorization: Basic base64(udid:)`. */
function clientOf(header: string | undefined): string | undefined {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)$/.exec(header ?? '');
  if (!m) return undefined;
  const text = Buffer.from(m[1]!, 'base64').toString('utf8');
  const user = text.split(':')[0];
  return user ? user : undefined;
}
