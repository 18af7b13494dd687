/**
 * The argument parsers mdmsim's commands share (lab/cli-args.ts): --resolve's reasons read once,
 * after commander's own "option '--resolve <host:address>' argument '…' is invalid.", and fit
 * every command that takes it; ports for listening (0 allowed) and for names (1 and up).
 */
import { Command } from 'commander';
import { listenPort, networkCommand, resolveEntry, tcpPort } from '../../../lab/cli-args';

/** What commander prints for `--resolve value`, or the entries it parsed. */
function parseResolve(...values: string[]): { error?: string; entries?: unknown } {
  let error: string | undefined;
  const program = new Command()
    .exitOverride()
    .configureOutput({ writeErr: (s) => (error = s), writeOut: () => undefined })
    .option('--resolve <host:address>', 'x', resolveEntry, []);
  try {
    program.parse(['node', 'mdmsim', ...values.flatMap((v) => ['--resolve', v])]);
  } catch {
    return { error };
  }
  return { entries: program.opts().resolve };
}

describe('--resolve', () => {
  it('collects repeated entries, normalised', () => {
    expect(parseResolve('*.MDMSIM.test:127.0.0.1', 'mdm.test:[::1]').entries).toEqual([
      { pattern: '*.mdmsim.test', address: '127.0.0.1' },
      { pattern: 'mdm.test', address: '::1' },
    ]);
  });

  it.each([
    ['mdm.test:not-an-address', '"not-an-address" for mdm.test is not an IP address'],
    ['no-address', 'expected HOST:ADDRESS, e.g. *.mdmsim.test:127.0.0.1'],
    ['bad host:1.2.3.4', 'expected HOST:ADDRESS'],
  ])('refuses %s once, saying why, without repeating the flag', (value, why) => {
    const { error } = parseResolve(value);
    expect(error).toContain(`option '--resolve <host:address>' argument '${value}' is invalid. `);
    expect(error).toContain(why);
    // Commander names the flag; the reason does not start over with it.
    expect(error?.match(/--resolve/g)).toHaveLength(1);
  });
});

describe('ports', () => {
  it('takes 0 to listen on (a free port), not for a name', () => {
    expect(listenPort('0')).toBe(0);
    expect(() => tcpPort('0')).toThrow('expected a port number from 1 to 65535');
  });

  it.each(['65536', '-1', '8443x', ''])('refuses %j', (value) => {
    expect(() => listenPort(value)).toThrow('expected a port number from 0 to 65535 (0 picks a free port)');
    expect(() => tcpPort(value)).toThrow('expected a port number from 1 to 65535');
  });
});

it('makes the network command once, whichever subcommand registers first', () => {
  const program = new Command();
  const first = networkCommand(program);
  expect(networkCommand(program)).toBe(first);
  expect(program.commands.filter((c) => c.name() === 'network')).toHaveLength(1);
});
