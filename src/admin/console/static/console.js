// The console's only script of its own (served from 'self'; the CSP allows nothing inline).
// 1. "Copy password" buttons copy the one-time password shown next to them.
document.addEventListener('click', (e) => {
  const button = e.target instanceof Element ? e.target.closest('[data-copy]') : null;
  if (button === null) return;
  const source = document.querySelector(button.getAttribute('data-copy'));
  if (source !== null && navigator.clipboard) {
    void navigator.clipboard.writeText(source.textContent || '').then(() => (button.textContent = 'Copied'));
  }
});
// 2. The blacklist refreshes itself every few seconds; a refresh waits while the operator has rows selected.
document.addEventListener('htmx:beforeRequest', (e) => {
  const el = e.detail && e.detail.elt;
  if (
    el instanceof Element &&
    el.getAttribute('data-poll') === 'keep-selection' &&
    e.detail.requestConfig &&
    e.detail.requestConfig.triggeringEvent === undefined &&
    el.querySelector('input[name=sel]:checked') !== null
  ) {
    e.preventDefault();
  }
});
