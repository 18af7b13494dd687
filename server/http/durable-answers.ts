/**
 * Holds an HTTP answer until the store has committed what the request wrote (group commit; see
 * server/storage/sqlite.ts). The hold sits on res.end, which every handler (the MDM and agent
 * paths, express) ends through, so no route can acknowledge a write that a crash could still
 * lose: whatever was written before the answer was ended is in the group being waited for.
 * If that commit fails, the connection is cut instead of answered: the client retries, as after
 * any network error, rather than believing in a write that is gone.
 */
import type { ServerResponse } from 'node:http';

export type WhenDurable = () => Promise<void> | undefined;

export function answerWhenDurable(res: ServerResponse, whenDurable: WhenDurable): void {
  const end = res.end;
  res.end = function endWhenDurable(this: ServerResponse, ...args: unknown[]): ServerResponse {
    const pending = whenDurable();
    if (pending === undefined) return (end as (...a: unknown[]) => ServerResponse).apply(this, args);
    pending.then(
      () => (end as (...a: unknown[]) => ServerResponse).apply(res, args),
      () => res.destroy(),
    );
    return this;
  } as ServerResponse['end'];
}
