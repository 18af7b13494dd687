// @ts-check
/**
 * Clock controls: advance by 1 hour, 1 day or 7 days; play (advance a step every second,
 * one step at a time, until paused); all disabled with a note when the server's clock is
 * real time. The time shown follows the events as they arrive, so a long advance on a big
 * fleet visibly moves.
 */
import { formatTime } from './format.js';

/** @typedef {import('./api.js').Api} Api */

const PLAY_EVERY_MS = 1000;

export class ClockControls {
  /**
   * @param {Api} api
   * @param {{ onNow: (now: number) => void, onError: (error: unknown) => void, onAdvanced: () => void }} hooks
   */
  constructor(api, hooks) {
    this.api = api;
    this.hooks = hooks;
    this.now = 0;
    /** @type {'virtual' | 'real' | undefined} */
    this.mode = undefined;
    this.busy = false;
    this.playing = false;
    this.nowEl = /** @type {HTMLOutputElement} */ (document.getElementById('clock-now'));
    this.modeEl = /** @type {HTMLElement} */ (document.getElementById('clock-mode'));
    this.noteEl = /** @type {HTMLElement} */ (document.getElementById('clock-note'));
    this.playButton = /** @type {HTMLButtonElement} */ (document.getElementById('play'));
    this.stepSelect = /** @type {HTMLSelectElement} */ (document.getElementById('play-step'));
    this.advanceButtons = /** @type {HTMLButtonElement[]} */ ([...document.querySelectorAll('button.advance')]);
    for (const b of this.advanceButtons) {
      b.addEventListener('click', () => void this.advance(b.dataset.by ?? '1h'));
    }
    this.playButton.addEventListener('click', () => (this.playing ? this.pause() : this.play()));
  }

  async load() {
    const clock = await this.api.get('/clock');
    this.mode = clock.mode;
    // The server's word wins, even if earlier than what events said (a restarted server).
    this.now = 0;
    this.show(Date.parse(clock.now));
    this.sync();
  }

  /** The clock is at least here (an event's time, or the server's answer). @param {number} t */
  show(t) {
    if (!(t > this.now)) return;
    this.now = t;
    this.nowEl.textContent = formatTime(t);
    this.nowEl.dataset.now = new Date(t).toISOString();
    this.hooks.onNow(t);
  }

  sync() {
    const real = this.mode === 'real';
    this.modeEl.textContent = this.mode ? `(${this.mode})` : '';
    for (const b of this.advanceButtons) b.disabled = real || this.busy || this.playing;
    this.stepSelect.disabled = real;
    this.playButton.disabled = real;
    this.playButton.setAttribute('aria-pressed', String(this.playing));
    this.playButton.textContent = this.playing ? '❚❚ pause' : '▶ play';
    this.noteEl.hidden = !real && !this.busy;
    this.noteEl.textContent = real
      ? 'The server runs on real time: its clock cannot be moved (mdmsim lab, or serve --clock virtual, runs a virtual clock).'
      : this.busy && !this.playing
        ? 'advancing…'
        : '';
  }

  /** @param {string} by */
  async advance(by) {
    if (this.busy || this.mode === 'real') return false;
    this.busy = true;
    this.sync();
    try {
      // No timeout: a week of a 1,000-Mac lab takes a while; events show progress meanwhile.
      const answer = await this.api.post('/clock/advance', { by }, { timeoutMs: 0 });
      this.show(Date.parse(answer.now));
      this.hooks.onAdvanced();
      return true;
    } catch (error) {
      this.hooks.onError(error);
      return false;
    } finally {
      this.busy = false;
      this.sync();
    }
  }

  play() {
    if (this.playing || this.mode === 'real') return;
    this.playing = true;
    this.sync();
    const loop = async () => {
      while (this.playing) {
        const ok = await this.advance(this.stepSelect.value);
        // A failed step stops play: the banner says why, and nothing repeats the failure.
        if (!ok) {
          this.pause();
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, PLAY_EVERY_MS));
      }
    };
    void loop();
  }

  pause() {
    this.playing = false;
    this.sync();
  }
}
