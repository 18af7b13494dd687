import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VirtualClock } from '../../protocol/clock';
import { startServer, type MdmsimServer, type ServerOptions } from '../../server/server';
import { HttpsClient } from './mdm-client';

export const T0 = Date.UTC(2026, 0, 5, 9, 0, 0);

export interface TestServer {
  server: MdmsimServer;
  /** Unexpected server errors (bugs); stop() fails the suite if there were any. */
  errors: unknown[];
  http: HttpsClient;
  clock: VirtualClock;
  token: string;
  stop(): Promise<void>;
}

/** A real server on port 0 over HTTPS, with a virtual clock and its own data dir. */
export async function startTestServer(options: ServerOptions = {}): Promise<TestServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'mdmsim-test-'));
  const clock = new VirtualClock({ start: T0 });
  const errors: unknown[] = [];
  const server = await startServer({ port: 0, dataDir, clock, apiToken: 'test-token', onError: (e) => errors.push(e), ...options });
  const http = HttpsClient.for(server);
  return {
    server,
    errors,
    http,
    clock,
    token: server.apiToken,
    async stop() {
      http.close();
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
      if (errors.length > 0) throw new Error(`the server hit ${errors.length} unexpected error(s): ${errors.map((e) => (e as Error)?.stack ?? String(e)).join('\n')}`);
    },
  };
}
