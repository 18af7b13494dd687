// @ts-check
/**
 * Server errors shown in the page: one banner per source (`request`, `stream`), replaced by
 * that source's next problem, closed by its × or when the source recovers. The page never
 * waits on a banner, so an error can not freeze it.
 */

/** @type {HTMLElement | null} */
let container = null;

/** @param {HTMLElement} element */
export function initBanners(element) {
  container = element;
}

/**
 * @param {string} key which source: a later problem from the same source replaces it
 * @param {{ message: string, code?: string, hint?: string, level?: 'error' | 'warn' }} problem
 */
export function showBanner(key, problem) {
  if (!container) return;
  let banner = /** @type {HTMLElement | null} */ (container.querySelector(`[data-key="${key}"]`));
  if (!banner) {
    banner = document.createElement('div');
    banner.dataset.key = key;
    banner.setAttribute('role', 'alert');
    container.append(banner);
  }
  banner.className = `banner${problem.level === 'warn' ? ' warn' : ''}`;
  const message = document.createElement('strong');
  message.className = 'message';
  message.textContent = problem.message;
  const parts = [message];
  if (problem.code) {
    const code = document.createElement('span');
    code.className = 'code';
    code.textContent = problem.code;
    parts.push(code);
  }
  if (problem.hint) {
    const hint = document.createElement('span');
    hint.className = 'hint';
    hint.textContent = problem.hint;
    parts.push(hint);
  }
  const close = document.createElement('button');
  close.type = 'button';
  close.title = 'dismiss';
  close.textContent = '×';
  close.addEventListener('click', () => banner?.remove());
  banner.replaceChildren(...parts, close);
}

/** @param {string} key */
export function clearBanner(key) {
  container?.querySelector(`[data-key="${key}"]`)?.remove();
}
