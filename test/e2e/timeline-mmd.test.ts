/**
 * GET /sim/v1/timeline.mmd: the run as a Mermaid sequence diagram, from a real lab over HTTPS,
 * filtered by device and time window.
 */
import { startLab, type Lab } from '../../lab/lab';
import { HttpsClient } from '../helpers/mdm-client';

jest.setTimeout(60_000);

describe('GET /sim/v1/timeline.mmd', () => {
  let lab: Lab;
  let http: HttpsClient;
  beforeAll(async () => {
    lab = await startLab({ devices: 2, seed: 'timeline-mmd' });
    await lab.advance('1h');
    http = HttpsClient.for(lab.server);
  });
  afterAll(async () => {
    http?.close();
    await lab?.stop();
  });

  const get = (query: string, token = lab.server.apiToken) => http.api('GET', `/sim/v1/timeline.mmd${query}`, token);

  it('draws the enrollment and the agent install of every Mac, Macs named by serial', async () => {
    const r = await get('');
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^text\/vnd\.mermaid/);
    const text = r.body.toString();
    expect(text.startsWith('sequenceDiagram\n')).toBe(true);
    for (const n of [1, 2]) {
      const serial = lab.macs[n - 1]!.identity.serialNumber;
      expect(text).toContain(`as Mac ${serial}`);
      expect(text).toContain(`as agent ${serial}`);
    }
    expect(text).toMatch(/^ {4}Mac1->>MDM: day 0 \d\d:\d\d Authenticate/m);
    expect(text).toMatch(/^ {4}MDM->>APNs: /m);
    expect(text).toMatch(/^ {4}Agent\d->>MDM: .*install check-in/m);
    // Routine agent check-ins are folded, not drawn one by one.
    expect(text).toMatch(/routine agent check-in/);
  });

  it('narrows to one device: one Mac, one agent', async () => {
    const mac = lab.macs[1]!;
    const text = (await get(`?udid=${mac.udid}`)).body.toString();
    expect(text).toContain(`participant Mac as Mac ${mac.identity.serialNumber}`);
    expect(text).not.toContain(lab.macs[0]!.identity.serialNumber);
    expect(text).toContain('participant Agent as agent');
  });

  it('narrows to a time window', async () => {
    const all = lab.server.events.query({ limit: 100_000 });
    const late = new Date(all[all.length - 1]!.at).toISOString();
    const text = (await get(`?since=${encodeURIComponent(late)}`)).body.toString();
    const arrows = text.split('\n').filter((l) => l.includes('->>') || l.includes('Note over'));
    expect(arrows.length).toBeGreaterThan(0);
    expect(arrows.length).toBeLessThan(all.length);
    expect(text).not.toMatch(/Authenticate/);
  });

  it('answers a bad window or no token with an error that says what to send', async () => {
    const bad = await get('?since=yesterday');
    expect(bad.status).toBe(400);
    expect(bad.json).toMatchObject({ error: { code: 'bad-parameter', field: 'since' } });
    expect((await get('', 'wrong')).status).toBe(401);
  });
});
