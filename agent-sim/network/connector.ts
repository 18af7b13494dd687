/**
 * How a Mac under a network policy opens a connection (an undici connector): the network's
 * allow-list first (a refused connection, as a firewall's reset: ECONNREFUSED, nothing sent), or
 * the fleet's proxy (CONNECT, the Mac's UDID in Proxy-Authorization; a refusal there fails the
 * tunnel, ERR_TUNNEL_CONNECTION_FAILED), then TLS on the name as always: SNI and the certificate
 * checked against it, under the Mac's trust anchors (with the inspection CA when an inspector is
 * in the path, as the organisation deployed it), and, for the agent, its pin.
 */
import { connect as netConnect, isIP, type Socket } from 'node:net';
import { connect as tlsConnect, type SecureContext, type TLSSocket } from 'node:tls';
import type { buildConnector } from 'undici';
import { CONNECT_FOR_HEADER, FleetProxy, type ConnectFor } from './proxy';
import { pinnedIdentityCheck } from './pin';
import { reachable, type EffectivePolicy } from './policy';
import type { Resolver } from './resolver';

export interface RouteConnectorOptions {
  policy: EffectivePolicy;
  resolver: Resolver;
  /** The proxy and inspector, when the policy goes through it. */
  proxy: () => Promise<FleetProxy>;
  /** Who the Mac is to the proxy (its UDID). */
  client: string;
  /** The Mac's trust anchors (plus the inspection CA when inspected). */
  secureContext: SecureContext;
  /** The agent's pin, for its own connections. */
  pin?: string;
  /** What the connections are for (told to the proxy, for its events). */
  purpose?: ConnectFor;
  timeoutMs: number;
  /** A connection the network refused (no proxy): for the Mac's events. */
  onBlocked(host: string, port: number): void;
}

function failure(message: string, code: string): Error {
  return Object.assign(new Error(message), { code });
}

export function routeConnector(o: RouteConnectorOptions): buildConnector.connector {
  return (opts, callback) => {
    let done = false;
    let raw: Socket | undefined;
    let secure: TLSSocket | undefined;
    const finish = (error: Error | null, socket?: TLSSocket) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (error) {
        secure?.destroy();
        raw?.destroy();
        callback(error, null);
      } else callback(null, socket!);
    };
    const timer = setTimeout(() => finish(failure(`connect ETIMEDOUT ${opts.hostname}:${opts.port}`, 'ETIMEDOUT')), o.timeoutMs);
    const host = opts.hostname.replace(/^\[(.*)\]$/, '$1');
    const port = Number(opts.port) || (opts.protocol === 'http:' ? 80 : 443);
    const servername = opts.servername || (isIP(host) === 0 ? host : undefined);
    const startTls = (socket?: Socket) => {
      secure = tlsConnect({
        ...(socket ? { socket } : { host, port, lookup: o.resolver.lookup }),
        ...(servername ? { servername } : {}),
        secureContext: o.secureContext,
        ...(o.pin !== undefined ? { checkServerIdentity: pinnedIdentityCheck(o.pin) } : {}),
      });
      secure.once('secureConnect', () => finish(null, secure));
      secure.once('error', (error) => finish(error));
    };

    // Without a proxy the network itself applies the allow-list.
    if (!o.policy.proxy && !reachable(o.policy, host, port)) {
      o.onBlocked(host, port);
      return finish(failure(`connect ECONNREFUSED ${host}:${port} (refused by the network: ${host}:${port} is not on its allow-list)`, 'ECONNREFUSED'));
    }
    if (!o.policy.viaProxy) return startTls();

    o.proxy().then(
      (proxy) => {
        if (done) return;
        raw = netConnect({ host: '127.0.0.1', port: proxy.port });
        raw.once('error', (error) => finish(error));
        raw.once('connect', () => {
          const target = isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`;
          const purpose = o.purpose ? `${CONNECT_FOR_HEADER}: ${o.purpose}\r\n` : '';
          raw!.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\nProxy-Authorization: ${FleetProxy.authorization(o.client)}\r\n${purpose}\r\n`);
        });
        let answer = Buffer.alloc(0);
        const onData = (chunk: Buffer) => {
          answer = Buffer.concat([answer, chunk]);
          const end = answer.indexOf('\r\n\r\n');
          if (end < 0) {
            if (answer.length > 16_384) finish(failure('the proxy answered CONNECT with more than 16 KiB of headers', 'ERR_TUNNEL_CONNECTION_FAILED'));
            return;
          }
          raw!.off('data', onData);
          const head = answer.subarray(0, end).toString('latin1');
          const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1]);
          if (status !== 200) {
            const body = answer.subarray(end + 4).toString('utf8').trim();
            const line = head.split('\r\n')[0];
            return finish(failure(`the proxy refused CONNECT ${host}:${port}: ${line}${body ? ` (${body})` : ''}`, 'ERR_TUNNEL_CONNECTION_FAILED'));
          }
          // Anything after the blank line already belongs to the tunnel.
          const rest = answer.subarray(end + 4);
          if (rest.length > 0) raw!.unshift(rest);
          startTls(raw);
        };
        raw.on('data', onData);
      },
      (error: Error) => finish(error),
    );
  };
}
