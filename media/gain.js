// Adaptation gain panel page: renders what the extension host sends. It computes nothing.
// @ts-check
(function () {
  const vscode = acquireVsCodeApi();
  const root = document.getElementById('root');

  /** @param {string} tag @param {Record<string, string>} [attrs] @param {(Node|string)[]} [children] */
  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    for (const c of children || []) node.append(c);
    return node;
  }

  // Widths go through the CSSOM: the page's CSP allows no inline style attributes.
  /** @param {number} fraction */
  function bar(fraction) {
    const node = el('div', { class: 'bar' });
    node.style.width = `${Math.max(0, Math.min(1, fraction)) * 100}%`;
    return node;
  }

  /** @param {number} x */
  const f3 = (x) => x.toFixed(3);

  function render(/** @type {any} */ msg) {
    if (!root) return;
    root.replaceChildren(el('h1', {}, ['Adaptation gain']));
    if (msg.type === 'progress') {
      root.append(
        el('p', { class: 'muted', id: 'status' }, [
          `Evaluating ${msg.file}: ${msg.done} / ${msg.total} tokens`,
        ]),
        el('progress', { max: String(Math.max(1, msg.total)), value: String(msg.done) }),
      );
      return;
    }
    if (msg.type === 'error' || msg.type === 'empty') {
      root.append(el('p', { class: msg.type === 'error' ? 'error' : 'muted', id: 'status' }, [msg.message]));
      return;
    }
    const r = msg.report;
    const max = Math.max(
      r.static_bits_per_byte,
      r.adapted_bits_per_byte,
      r.adapted_whole_file_bits_per_byte,
      1e-9,
    );
    /** @param {string} label @param {number} v @param {string} id */
    const row = (label, v, id) =>
      el('tr', {}, [
        el('th', { scope: 'row' }, [label]),
        el('td', { class: 'num', id }, [f3(v)]),
        el('td', {}, [el('div', { class: 'bar-track' }, [bar(v / max)])]),
      ]);
    const gainClass = r.gain_pct < 0 ? 'gain negative' : 'gain';
    root.append(
      el('p', { class: 'muted' }, [
        `${r.file} (${r.language}) - ${r.tokens} tokens, ${r.bytes} bytes${r.truncated ? ' (first part of the file)' : ''}`,
      ]),
      el('p', {}, [
        el('span', { class: gainClass, id: 'gain' }, [`${Math.abs(r.gain_pct).toFixed(1)}%`]),
        ` ${r.gain_pct >= 0 ? 'fewer' : 'more'} bits per byte with adaptation (whole file: ` +
          `${Math.abs(r.whole_file_gain_pct).toFixed(1)}% ${r.whole_file_gain_pct >= 0 ? 'fewer' : 'more'})`,
      ]),
      el('table', {}, [
        el('thead', {}, [
          el('tr', {}, [el('th', {}, ['State']), el('th', {}, ['bits/byte']), el('th', {}, [''])]),
        ]),
        el('tbody', {}, [
          row('Without adaptation (static)', r.static_bits_per_byte, 'static'),
          row('With adaptation (text before each token)', r.adapted_bits_per_byte, 'adapted'),
          row('With adaptation (whole file)', r.adapted_whole_file_bits_per_byte, 'whole-file'),
        ]),
      ]),
      el('p', {}, [
        "The file's fast-weight state is built from ",
        el('strong', { id: 'state-tokens' }, [String(r.state_tokens)]),
        ' tokens.',
      ]),
      el('p', { class: 'muted' }, [
        `Model ${r.model} on ${r.provider}; evaluated in ${r.seconds.toFixed(1)} s. Lower is better.`,
      ]),
    );
  }

  window.addEventListener('message', (event) => render(event.data));
  vscode.postMessage({ type: 'ready' });
})();
