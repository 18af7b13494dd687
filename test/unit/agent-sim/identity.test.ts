import { fleetNumber, MAC_MODELS, macChoices, macIdentity, OS_RELEASES, releasesFor, SERIAL_ALPHABET } from '../../../agent-sim/identity';

const UUID = /^[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-[89AB][0-9A-F]{3}-[0-9A-F]{12}$/;
const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;

describe('macIdentity', () => {
  test('is deterministic from seed, index and shard', () => {
    expect(macIdentity({ seed: 's', index: 7 })).toEqual(macIdentity({ seed: 's', index: 7 }));
    expect(macIdentity({ seed: 's', index: 7, shard: { index: 1, of: 4 } })).toEqual(macIdentity({ seed: 's', index: 7, shard: { index: 1, of: 4 } }));
    expect(macIdentity({ seed: 's', index: 7 }).udid).not.toBe(macIdentity({ seed: 't', index: 7 }).udid);
    expect(macIdentity({ seed: 's', index: 7 }).udid).not.toBe(macIdentity({ seed: 's', index: 8 }).udid);
  });

  test('shards are disjoint and together are the unsharded fleet', () => {
    const of = 3;
    const per = 200;
    const whole = new Set(Array.from({ length: of * per }, (_, i) => macIdentity({ seed: 'fleet', index: i }).udid));
    const shards = Array.from({ length: of }, (_, s) => Array.from({ length: per }, (_, i) => macIdentity({ seed: 'fleet', index: i, shard: { index: s, of } }).udid));
    const union = new Set(shards.flat());
    expect(union.size).toBe(of * per);
    expect(union).toEqual(whole);
    expect(fleetNumber(5, { index: 2, of: 3 })).toBe(17);
    expect(() => fleetNumber(0, { index: 3, of: 3 })).toThrow(RangeError);
    expect(() => macIdentity({ seed: 's', index: -1 })).toThrow(RangeError);
  });

  test('serial numbers never repeat within a seed', () => {
    const serials = new Set(Array.from({ length: 20_000 }, (_, i) => macIdentity({ seed: 'serials', index: i }).serialNumber));
    expect(serials.size).toBe(20_000);
  });

  test("fields have a real Mac's formats", () => {
    for (let i = 0; i < 500; i++) {
      const id = macIdentity({ seed: 'formats', index: i });
      expect(id.udid).toMatch(UUID);
      expect(id.serialNumber).toHaveLength(12);
      for (const c of id.serialNumber) expect(SERIAL_ALPHABET).toContain(c);
      expect(id.serialNumber).not.toMatch(/[OI]/);
      expect(id.deviceName).toMatch(new RegExp(`^[A-Z][a-z]+’s ${id.modelName}$`));
      expect(id.localHostName).toMatch(/^[A-Za-z0-9-]+$/);
      expect(id.hostName).toBe(`${id.localHostName}.local`);
      expect(id.wifiMac).toMatch(MAC);
      expect(id.bluetoothMac).toMatch(MAC);
      // Locally administered unicast: never a real vendor's address.
      expect(parseInt(id.wifiMac.slice(0, 2), 16) & 0x03).toBe(0x02);
      const model = MAC_MODELS.find((m) => m.model === id.model)!;
      expect(id.ethernetMacs).toHaveLength(model.form === 'desktop' ? 1 : 0);
      expect(id.modelName).toBe(model.modelName);
      expect(id.marketingName).toBe(model.marketingName);
      expect(id.modelNumber).toMatch(/^[A-Z0-9]{5}LL\/A$/);
      expect(id.appleSilicon).toBe(model.appleSilicon);
      expect(model.storageGB.map((g) => g * 1e9)).toContain(id.storageCapacityBytes);
      expect(id.storageAvailableBytes).toBeGreaterThan(0);
      expect(id.storageAvailableBytes).toBeLessThan(id.storageCapacityBytes);
    }
  });

  test('every Mac runs a release (with its build) that supports its model', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 3000; i++) {
      const id = macIdentity({ seed: 'pairs', index: i });
      const release = OS_RELEASES.find((r) => r.version === id.osVersion)!;
      expect(release).toBeDefined();
      expect(release.build).toBe(id.buildVersion);
      expect(release.models).toContain(id.model);
      seen.add(id.model);
    }
    expect(seen.size).toBe(MAC_MODELS.length);
  });

  test('the fixtures hang together: ~10-15 models of both kinds, 8-12 releases from 10.15.7 to 15.x', () => {
    expect(MAC_MODELS.length).toBeGreaterThanOrEqual(10);
    expect(MAC_MODELS.length).toBeLessThanOrEqual(15);
    expect(MAC_MODELS.some((m) => m.appleSilicon)).toBe(true);
    expect(MAC_MODELS.some((m) => !m.appleSilicon)).toBe(true);
    expect(OS_RELEASES.length).toBeGreaterThanOrEqual(8);
    expect(OS_RELEASES.length).toBeLessThanOrEqual(12);
    expect(OS_RELEASES[0]!.version).toBe('10.15.7');
    expect(OS_RELEASES.at(-1)!.version).toMatch(/^15\./);
    const names = new Set(MAC_MODELS.map((m) => m.model));
    for (const r of OS_RELEASES) {
      expect(r.build).toMatch(/^\d{2}[A-Z]\d{1,4}[a-z]?$/);
      for (const m of r.models) expect(names).toContain(m);
    }
    for (const m of MAC_MODELS) expect(releasesFor(m.model).length).toBeGreaterThan(0);
    // Apple silicon never ran Catalina.
    expect(OS_RELEASES[0]!.models.every((m) => !MAC_MODELS.find((x) => x.model === m)!.appleSilicon)).toBe(true);
  });
});

describe('macChoices: a fleet limited to some models and macOS versions', () => {
  it('draws only matching models and releases, every Mac still on a release its model runs', () => {
    const choices = macChoices({ models: ['MacBook Air'], os: ['15'] });
    for (let index = 0; index < 200; index++) {
      const id = macIdentity({ seed: 'filters', index, choices });
      expect(id.modelName).toBe('MacBook Air');
      expect(id.osVersion).toMatch(/^15(\.|$)/);
      expect(releasesFor(id.model).map((r) => r.version)).toContain(id.osVersion);
    }
  });

  it('takes model identifiers and exact versions, and is the whole catalogue without filters', () => {
    const first = MAC_MODELS[0]!;
    const release = releasesFor(first.model).at(-1)!;
    const one = macChoices({ models: [first.model.toLowerCase()], os: [release.version] });
    expect(one.models.map((m) => m.model)).toEqual([first.model]);
    expect(one.releases.get(first.model)!.map((r) => r.version)).toEqual([release.version]);
    expect(macChoices().models).toBe(MAC_MODELS);
    // No filters: the identities are exactly those of a fleet without the option.
    expect(macIdentity({ seed: 's', index: 3, choices: macChoices({}) })).toEqual(macIdentity({ seed: 's', index: 3 }));
  });

  it('refuses a filter that matches nothing, saying what exists', () => {
    expect(() => macChoices({ models: ['ThinkPad'] })).toThrow(/models: no Mac model matches "ThinkPad"; known: .*MacBook Air/);
    expect(() => macChoices({ os: ['9'] })).toThrow(/os: no macOS release matches "9"; known: /);
    const oldest = OS_RELEASES[0]!.version;
    const newOnly = MAC_MODELS.find((m) => !releasesFor(m.model).some((r) => r.version === oldest));
    if (newOnly) expect(() => macChoices({ models: [newOnly.model], os: [oldest] })).toThrow(/none of those models runs any of those releases/);
  });
});
