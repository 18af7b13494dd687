/**
 * Strings handed out by the parser must not keep the whole document alive: storage keeps
 * UDIDs and CommandUUIDs for days, and V8's slice() would pin each one's request body.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { buildPlistBuffer, parsePlist } from '../../../protocol/plist';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function retainedPerString(make: (i: number) => string): number {
  const N = 2000;
  gc();
  gc();
  const before = process.memoryUsage().heapUsed;
  const kept: string[] = [];
  for (let i = 0; i < N; i++) kept.push(make(i));
  gc();
  gc();
  const after = process.memoryUsage().heapUsed;
  expect(kept).toHaveLength(N);
  return (after - before) / N;
}

const body = (i: number, pad: string) =>
  buildPlistBuffer({ UDID: `UDID-${String(i).padStart(31, '0')}`, Status: 'Acknowledged', CommandUUID: 'X', Pad: pad.repeat(20_000) });

describe('parsed strings do not pin their document', () => {
  it('ASCII document: a 36-character value keeps well under 1 KB of a 20 KB body', () => {
    expect(retainedPerString((i) => (parsePlist(body(i, 'p')) as { UDID: string }).UDID)).toBeLessThan(1024);
  });

  it('non-ASCII document: the same', () => {
    expect(retainedPerString((i) => (parsePlist(body(i, 'é')) as { UDID: string }).UDID)).toBeLessThan(1024);
  });

  it('string input: the same', () => {
    expect(retainedPerString((i) => (parsePlist(body(i, 'p').toString()) as { UDID: string }).UDID)).toBeLessThan(1024);
  });
});
