/**
 * `server.apiTokens`: issue, list and revoke API tokens in a running server. Same store as the
 * CLI (the data dir's api-tokens.json), and each change is an event on the timeline, so a lab
 * shows "API token revoked" at the instant a scenario pulled it.
 */
import type { EventLog } from '../../service/event-log';
import type { ApiTokenInfo, ApiTokenStore, CreateApiTokenInput, IssuedApiToken } from './token-store';

export class ApiTokens {
  constructor(
    readonly store: ApiTokenStore,
    private readonly events: EventLog,
  ) {}

  /** Issues a token (a UUID) with these permissions; the answer is the only time its secret is shown. */
  create(input: CreateApiTokenInput): IssuedApiToken {
    const issued = this.store.create(input);
    this.events.record({
      type: 'api.token.created',
      from: 'operator',
      to: 'mdm',
      summary: `API token "${issued.name}" created (${describe(issued)})`,
      data: { id: issued.id, name: issued.name, permissions: issued.permissions },
    });
    return issued;
  }

  /** Revokes by id (or secret): the next request with it answers 401. Throws ApiTokenError when unknown. */
  revoke(idOrSecret: string): ApiTokenInfo {
    const before = this.store.get(idOrSecret);
    const revoked = this.store.revoke(idOrSecret);
    if (before && before.revokedAt === null) {
      this.events.record({
        type: 'api.token.revoked',
        from: 'operator',
        to: 'mdm',
        summary: `API token "${revoked.name}" revoked`,
        data: { id: revoked.id, name: revoked.name },
      });
    }
    return revoked;
  }

  list(): ApiTokenInfo[] {
    return this.store.list();
  }

  get(idOrSecret: string): ApiTokenInfo | undefined {
    return this.store.get(idOrSecret);
  }
}

function describe(t: ApiTokenInfo): string {
  return t.permissions === '*' ? 'every permission' : t.permissions.join(', ');
}
