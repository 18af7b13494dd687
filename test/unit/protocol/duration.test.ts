import { DurationError, formatDuration, parseDuration } from '../../../protocol/duration';

const H = 3_600_000;
const D = 24 * H;

describe('parseDuration', () => {
  it.each([
    ['15m', 15 * 60_000],
    ['36h', 36 * H],
    ['8d', 8 * D],
    ['1d12h', 36 * H],
    ['90s', 90_000],
    ['500ms', 500],
    ['2w', 14 * D],
    ['1.5h', 1.5 * H],
    ['P8D', 8 * D],
    ['p8d', 8 * D],
    ['PT36H', 36 * H],
    ['PT15M', 15 * 60_000],
    ['P1DT2H30M', D + 2.5 * H],
    ['P2W', 14 * D],
    ['PT0.5S', 500],
    ['1000', 1000],
  ])('%s', (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each(['', 'abc', '8x', '-1d', 'P', 'PT', 'P1M', 'P1Y', 'P1Y2D', '8d junk', '1000000d'])('rejects %j with an example of what works', (text) => {
    expect(() => parseDuration(text)).toThrow(DurationError);
    expect(() => parseDuration(text)).toThrow(/like "15m"|no fixed length|ten years|non-negative/);
  });

  it('explains why months are refused', () => {
    expect(() => parseDuration('P1M')).toThrow(/no fixed length/);
    expect(parseDuration('PT1M')).toBe(60_000);
  });

  it('formats back', () => {
    expect(formatDuration(8 * D)).toBe('8d');
    expect(formatDuration(36 * H + 61_000)).toBe('1d12h1m1s');
    expect(formatDuration(0)).toBe('0s');
  });
});
