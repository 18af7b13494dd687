/**
 * The APNs mock in one object: the provider API (HTTP/2), the courier (WebSocket), the hub
 * between them, the signing keys and the faults. `mdmsim serve` starts one beside the MDM
 * server; a test suite can start one alone with `startApnsMock`.
 */
import type { Clock } from '../../protocol/clock';
import { RealClock } from '../../protocol/clock';
import { MemoryStorage } from '../storage/memory';
import { EventLog } from '../service/event-log';
import type { ApnsEnvironment } from './certificate';
import { CourierServer } from './courier-server';
import { ApnsFaults, type ApnsFaultState } from './faults';
import { ApnsHub, type ApnsActivity } from './hub';
import { ProviderKeys, type ProviderKeyInput } from './keys';
import { ProviderServer } from './provider';

export const DEFAULT_APNS_PORT = 2197;
export const DEFAULT_COURIER_PORT = 5223;

export interface ApnsMockOptions {
  host?: string;
  /** HTTP/2 provider API port (default 2197; 0 picks a free one). */
  providerPort?: number;
  /** Courier WebSocket port (default 5223; 0 picks a free one). */
  courierPort?: number;
  /** The provider API's TLS certificate (it must cover `host`). */
  tls: { key: string; cert: string };
  /** CA whose certificates may authenticate (the mdmsim CA). */
  caPem: string;
  /** Serve the courier as wss:// with `tls` (default ws://). */
  courierTls?: boolean;
  clock?: Clock;
  events?: EventLog;
  /** Names the enrollment behind a token, for the event log. */
  udidOf?: (token: string) => string | undefined;
  /** Which environment extension client certificates need (default production: MDM pushes are production-only). */
  environment?: ApnsEnvironment;
  /** Provider-token keys trusted from the start. */
  keys?: ProviderKeyInput[];
  onError?: (error: unknown) => void;
}

export class ApnsMock {
  private constructor(
    readonly hub: ApnsHub,
    readonly keys: ProviderKeys,
    readonly faults: ApnsFaults,
    readonly provider: ProviderServer,
    readonly courier: CourierServer,
  ) {}

  static async start(options: ApnsMockOptions): Promise<ApnsMock> {
    const host = options.host ?? '127.0.0.1';
    const clock = options.clock ?? new RealClock();
    const events = options.events ?? new EventLog(new MemoryStorage(), clock);
    const onError = options.onError ?? ((e: unknown) => process.stderr.write(`mdmsim apns: unexpected error: ${(e as Error)?.stack ?? String(e)}\n`));
    const faults = new ApnsFaults();
    const keys = new ProviderKeys();
    for (const k of options.keys ?? []) keys.add(k);
    const hub = new ApnsHub({ clock, events, faults, udidOf: options.udidOf });
    const provider = await ProviderServer.start({
      host,
      port: options.providerPort ?? DEFAULT_APNS_PORT,
      tls: options.tls,
      caPem: options.caPem,
      hub,
      keys,
      faults,
      clock,
      environment: options.environment,
      onError,
    });
    let courier: CourierServer;
    try {
      courier = await CourierServer.start({ hub, host, port: options.courierPort ?? DEFAULT_COURIER_PORT, tls: options.courierTls ? options.tls : undefined });
    } catch (error) {
      await provider.close();
      throw error;
    }
    return new ApnsMock(hub, keys, faults, provider, courier);
  }

  /** https://host:port of the provider API. */
  get providerUrl(): string {
    return this.provider.url;
  }

  /** ws://host:port of the courier. */
  get courierUrl(): string {
    return this.courier.url;
  }

  /** Changes faults (PATCH semantics) and applies a provider state change at once. */
  async updateFaults(patch: unknown): Promise<Readonly<ApnsFaultState>> {
    const state = this.faults.update(patch);
    await this.provider.setState(state.provider);
    return state;
  }

  async resetFaults(): Promise<Readonly<ApnsFaultState>> {
    const state = this.faults.reset();
    await this.provider.setState(state.provider);
    return state;
  }

  /** Every accepted, rejected, delivered, expired or lost push, as it happens. */
  onActivity(listener: (a: ApnsActivity) => void): () => void {
    return this.hub.onActivity(listener);
  }

  async stop(): Promise<void> {
    this.hub.close();
    await Promise.all([this.provider.close(), this.courier.close()]);
  }
}

export function startApnsMock(options: ApnsMockOptions): Promise<ApnsMock> {
  return ApnsMock.start(options);
}
