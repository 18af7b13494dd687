// @ts-check
/**
 * The scenario panel: the story a lab is playing (GET /sim/v1/scenario), its steps as they
 * are done and its expectations turning green (held) or red (failed). Re-read on the
 * `scenario.*` events the lab records.
 */

/** @typedef {import('./api.js').Api} Api */
/**
 * @typedef {{ name: string, title: string, description: string, startedAt: string, endsAt: string, state: 'playing' | 'done',
 *   steps: { at: string, describe: string, done: boolean }[],
 *   expectations: { describe: string, status: 'pending' | 'held' | 'failed', failures: string[] }[] }} ScenarioState
 */

/**
 * @param {string} tag
 * @param {string} [className]
 * @param {string} [text]
 */
function el(tag, className, text) {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

export class ScenarioPanel {
  /** @param {Api} api @param {HTMLElement} body @param {(error: unknown) => void} onError */
  constructor(api, body, onError) {
    this.api = api;
    this.body = body;
    this.onError = onError;
    this.loading = false;
    this.again = false;
  }

  /** Re-reads the scenario; calls while one read is on its way coalesce into one more. */
  async refresh() {
    if (this.loading) {
      this.again = true;
      return;
    }
    this.loading = true;
    try {
      do {
        this.again = false;
        const answer = await this.api.get('/scenario');
        this.render(answer.scenario);
      } while (this.again);
    } catch (error) {
      this.onError(error);
    } finally {
      this.loading = false;
    }
  }

  /** @param {ScenarioState | null} s */
  render(s) {
    if (!s) {
      this.body.className = 'muted';
      this.body.replaceChildren('No scenario is playing. ', el('code', '', 'mdmsim lab --scenario NAME'), ' plays one.');
      return;
    }
    this.body.className = '';
    this.body.dataset.state = s.state;
    const head = el('p');
    head.append(el('span', 'title', s.title), ` (${s.name}) — ${s.state === 'done' ? 'done' : 'playing'}, ${s.startedAt.slice(0, 16).replace('T', ' ')} to ${s.endsAt.slice(0, 16).replace('T', ' ')}`);
    const description = el('p', 'muted', s.description);
    const steps = el('ol', 'steps');
    for (const step of s.steps) {
      const li = el('li', step.done ? 'done' : '', `${step.at}: ${step.describe}`);
      steps.append(li);
    }
    const expectations = el('ul', 'expectations');
    for (const x of s.expectations) {
      const li = el('li', `expectation ${x.status}`, x.describe);
      li.dataset.status = x.status;
      if (x.failures.length > 0) {
        const failures = el('ul', 'failures');
        for (const f of x.failures) failures.append(el('li', '', f));
        li.append(failures);
      }
      expectations.append(li);
    }
    const cols = el('div', 'cols');
    const left = el('div');
    left.append(el('strong', '', 'Steps'), steps);
    const right = el('div');
    const held = s.expectations.filter((x) => x.status === 'held').length;
    const failed = s.expectations.filter((x) => x.status === 'failed').length;
    right.append(el('strong', '', `Expectations (${held} held, ${failed} failed, ${s.expectations.length - held - failed} pending)`), expectations);
    cols.append(left, right);
    this.body.replaceChildren(head, description, cols);
  }
}
