import { ALL_OS, expectValid, mac, run } from './helpers';

describe('DeviceLock', () => {
  it.each(ALL_OS)('on %s locks with a six-digit PIN and acknowledges (strict schema)', async (os) => {
    const m = mac(os);
    const outcome = await run(m, 'DeviceLock', { PIN: '123456', Message: 'Call IT' });
    expect(outcome).toEqual({ status: 'Acknowledged' });
    expectValid(m, 'DeviceLock', outcome);
    expect(m.state.lockedWithPin).toBe('123456');
  });

  it.each([
    ['no PIN', {}],
    ['a short PIN', { PIN: '1234' }],
    ['a PIN with letters', { PIN: '12345a' }],
  ])('refuses %s on a Mac that needs one (CommandFormatError, nothing locked)', async (_what, payload) => {
    const m = mac('sonoma', 'intelT2');
    const outcome = await run(m, 'DeviceLock', payload);
    expect(outcome.status).toBe('CommandFormatError');
    expectValid(m, 'DeviceLock', outcome);
    expect(m.state.lockedWithPin).toBeUndefined();
  });

  it('locks an Apple silicon Mac before macOS 11.5 without a PIN (it deactivates instead)', async () => {
    const m = mac('bigSur', 'appleSilicon', { osVersion: '11.4', buildVersion: '20F71' });
    expect(await run(m, 'DeviceLock')).toEqual({ status: 'Acknowledged' });
    expect(m.state.lockedWithPin).toBe('');
  });
});

describe('EraseDevice', () => {
  it.each(ALL_OS)('on %s acknowledges, then erases', async (os) => {
    const m = mac(os);
    const outcome = await run(m, 'EraseDevice', { PIN: '654321' });
    expect(outcome).toEqual({ status: 'Acknowledged', after: ['erase'] });
    expectValid(m, 'EraseDevice', outcome);
  });

  it('needs no PIN on T2 or Apple silicon, whatever ObliterationBehavior says', async () => {
    for (const behaviour of ['Default', 'DoNotObliterate', 'ObliterateWithWarning', 'Always']) {
      expect(await run(mac('sonoma'), 'EraseDevice', { ObliterationBehavior: behaviour })).toEqual({ status: 'Acknowledged', after: ['erase'] });
    }
    expect(await run(mac('monterey', 'intelT2'), 'EraseDevice')).toEqual({ status: 'Acknowledged', after: ['erase'] });
  });

  it('needs a PIN on an Intel Mac without T2 (its firmware lock)', async () => {
    const m = mac('monterey', 'intelOld');
    expect((await run(m, 'EraseDevice')).status).toBe('CommandFormatError');
    expect(await run(m, 'EraseDevice', { PIN: '000000' })).toEqual({ status: 'Acknowledged', after: ['erase'] });
  });
});

describe('RestartDevice and ShutDownDevice', () => {
  it.each(ALL_OS)('on %s acknowledge, then restart or shut down', async (os) => {
    const m = mac(os);
    const restart = await run(m, 'RestartDevice');
    expect(restart).toEqual({ status: 'Acknowledged', after: ['restart'] });
    expectValid(m, 'RestartDevice', restart);
    const shutdown = await run(m, 'ShutDownDevice');
    expect(shutdown).toEqual({ status: 'Acknowledged', after: ['shutdown'] });
    expectValid(m, 'ShutDownDevice', shutdown);
  });

  it('with NotifyUser only asks a logged-in user to restart (no forced restart)', async () => {
    const m = mac('sonoma');
    expect(await run(m, 'RestartDevice', { NotifyUser: true })).toEqual({ status: 'Acknowledged' });
    m.state.users[0]!.IsLoggedIn = false;
    expect(await run(m, 'RestartDevice', { NotifyUser: true })).toEqual({ status: 'Acknowledged', after: ['restart'] });
  });

  it('restarts regardless of NotifyUser on macOS 10.15, which predates it', async () => {
    expect(await run(mac('catalina'), 'RestartDevice', { NotifyUser: true })).toEqual({ status: 'Acknowledged', after: ['restart'] });
  });
});
