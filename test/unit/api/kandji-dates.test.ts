/** The three timestamp formats against Date's own UTC fields, over a spread of instants. */
import fc from 'fast-check';
import { kandjiIsoOffset, kandjiIsoZ, kandjiSpaced } from '../../../protocol/kandji';

function reference(ms: number, sep: string): string {
  const d = new Date(ms);
  const p = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${d.getUTCFullYear()}-${p(d.getUTCMonth() + 1)}-${p(d.getUTCDate())}${sep}${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}.${p(d.getUTCMilliseconds(), 3)}000+00:00`;
}

describe('Kandji timestamp formats', () => {
  it('match the fact sheet examples', () => {
    const ms = Date.UTC(2024, 0, 26, 16, 15, 36, 87);
    expect(kandjiIsoZ(ms)).toBe('2024-01-26T16:15:36.087Z');
    expect(kandjiSpaced(ms)).toBe('2024-01-26 16:15:36.087000+00:00');
    expect(kandjiIsoOffset(ms)).toBe('2024-01-26T16:15:36.087000+00:00');
  });

  it('agree with Date for any instant from 1970 to 9999 (and day boundaries)', () => {
    fc.assert(
      fc.property(fc.oneof(fc.integer({ min: 0, max: 253_402_300_799_999 }), fc.integer({ min: 0, max: 100_000 }).map((d) => d * 86_400_000 - 1)), (ms) => {
        expect(kandjiSpaced(ms)).toBe(reference(ms, ' '));
        expect(kandjiIsoOffset(ms)).toBe(reference(ms, 'T'));
      }),
      { numRuns: 5000 },
    );
  });
});
