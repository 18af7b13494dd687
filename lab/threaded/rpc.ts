/**
 * Calls between the lab's main thread and its server thread, over the same port as the
 * mirrored clock (so a call and a clock message keep their relative order). Both ends are
 * symmetric: `call` awaits an answer, `notify` does not.
 */
import { deserializeError, serializeError, type Endpoint, type SerializedError } from './mirror';

export type RpcMessage =
  | { t: 'rpc.call'; id: number; method: string; args: unknown[] }
  | { t: 'rpc.reply'; id: number; value?: unknown; error?: SerializedError }
  | { t: 'rpc.note'; method: string; args: unknown[] };

export type RpcHandlers = Record<string, (...args: any[]) => unknown>;

export class Rpc {
  private nextId = 1;
  private readonly pending = new Map<number, { method: string; resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private closedBy: Error | undefined;

  constructor(
    private readonly port: Endpoint,
    private readonly handlers: RpcHandlers,
    /** Where a failing notification's error goes (nobody awaits it). */
    private readonly onError: (error: unknown) => void,
    /** Names the other side in error messages. */
    private readonly peer: string,
  ) {}

  call<T = unknown>(method: string, ...args: unknown[]): Promise<T> {
    if (this.closedBy) return Promise.reject(this.closedBy);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { method, resolve: resolve as (v: unknown) => void, reject });
      this.port.postMessage({ t: 'rpc.call', id, method, args } satisfies RpcMessage);
    });
  }

  notify(method: string, ...args: unknown[]): void {
    if (this.closedBy) return;
    this.port.postMessage({ t: 'rpc.note', method, args } satisfies RpcMessage);
  }

  handle(message: unknown): boolean {
    const m = message as RpcMessage;
    switch (m?.t) {
      case 'rpc.call':
        void this.answer(m.id, m.method, m.args);
        return true;
      case 'rpc.note':
        try {
          const r = this.run(m.method, m.args);
          if (r && typeof (r as Promise<unknown>).then === 'function') (r as Promise<unknown>).then(undefined, this.onError);
        } catch (error) {
          this.onError(error);
        }
        return true;
      case 'rpc.reply': {
        const p = this.pending.get(m.id);
        this.pending.delete(m.id);
        if (p) m.error ? p.reject(deserializeError(m.error, `${p.method} in the ${this.peer}`)) : p.resolve(m.value);
        return true;
      }
      default:
        return false;
    }
  }

  /** The other side is gone: every call waiting rejects with `reason`, later ones at once. */
  close(reason: Error): void {
    if (this.closedBy) return;
    this.closedBy = reason;
    for (const p of this.pending.values()) p.reject(reason);
    this.pending.clear();
  }

  private run(method: string, args: unknown[]): unknown {
    const handler = Object.prototype.hasOwnProperty.call(this.handlers, method) ? this.handlers[method] : undefined;
    if (!handler) throw new Error(`no method ${JSON.stringify(method)}`);
    return handler(...args);
  }

  private async answer(id: number, method: string, args: unknown[]): Promise<void> {
    let reply: RpcMessage;
    try {
      reply = { t: 'rpc.reply', id, value: await this.run(method, args) };
    } catch (error) {
      reply = { t: 'rpc.reply', id, error: serializeError(error) };
    }
    try {
      this.port.postMessage(reply);
    } catch (error) {
      // An answer that cannot be cloned (a function, say) still answers, as an error.
      this.port.postMessage({ t: 'rpc.reply', id, error: serializeError(error) } satisfies RpcMessage);
    }
  }
}
