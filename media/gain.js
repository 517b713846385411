// Adaptation gain panel page. It renders what the extension host sends (every number is computed there)
// and sends back only button clicks, block clicks and, for tests, the text its headline shows.
// @ts-check
(function () {
  const vscode = acquireVsCodeApi();
  const SVG = 'http://www.w3.org/2000/svg';
  /** @type {any} */
  let lastReport = null;

  /** @param {string} id */
  const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

  /** @param {string} tag @param {Record<string, string>} [attrs] @param {(Node|string)[]} [children] */
  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, v);
    for (const c of children || []) node.append(c);
    return node;
  }

  /** @param {string} tag @param {Record<string, string|number>} [attrs] @param {(Node|string)[]} [children] */
  function svg(tag, attrs, children) {
    const node = document.createElementNS(SVG, tag);
    for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
    for (const c of children || []) node.append(c);
    return node;
  }

  /** @param {number} x */
  const f3 = (x) => x.toFixed(3);
  /** @param {number} x */
  const int = (x) => Math.round(x).toLocaleString('en-US');
  /** Gain in %, positive when adaptation helps; a real minus sign for a loss. @param {number} pct */
  const gainText = (pct) => `${pct < 0 ? '\u2212' : ''}${Math.abs(pct).toFixed(1)}%`;
  /** The files that feed the repository state, named (the first few) after the figure. */
  const repositoryFiles = (files) => {
    if (!files || files.length === 0) return '';
    const shown = files.slice(0, 5).join(', ');
    const more = files.length > 5 ? ` and ${files.length - 5} more` : '';
    return `, its state from ${files.length === 1 ? '1 file' : `${files.length} files`}: ${shown}${more}`;
  };
  /** @param {number} bytes */
  function size(bytes) {
    if (bytes >= 1048576) return `${(bytes / 1048576).toFixed(1)} MB`;
    if (bytes >= 1024) return `${(bytes / 1024).toFixed(0)} KB`;
    return `${bytes} B`;
  }
  /** 1-based, as the editor shows line numbers. @param {any} b */
  const lines = (b) =>
    b.startLine === b.endLine ? `${b.startLine + 1}` : `${b.startLine + 1}\u2013${b.endLine + 1}`;

  /** @param {string} text @param {boolean} [busy] */
  function setStatus(text, busy) {
    $('status').textContent = text;
    $('status').hidden = text === '';
    $('status').classList.toggle('error', false);
    if (!busy) $('progress').hidden = true;
  }

  /** @param {number} done @param {number} total */
  function showProgress(done, total) {
    const p = /** @type {HTMLProgressElement} */ ($('progress'));
    p.hidden = false;
    if (total > 0) {
      p.max = total;
      p.value = done;
    } else p.removeAttribute('value'); // indeterminate until the worker reports a total
  }

  function render(/** @type {any} */ msg) {
    if (!msg || typeof msg.type !== 'string') return;
    const resetFile = /** @type {HTMLButtonElement} */ ($('reset-file'));
    if (msg.type === 'progress') {
      lastReport = null;
      $('content').hidden = true;
      $('file').textContent = msg.file;
      resetFile.disabled = false;
      setStatus(
        msg.total > 0
          ? `Evaluating ${msg.file}: ${int(msg.done)} of ${int(msg.total)} tokens`
          : `Evaluating ${msg.file}...`,
        true,
      );
      showProgress(msg.done, msg.total);
      return;
    }
    if (msg.type === 'error' || msg.type === 'empty') {
      lastReport = null;
      $('content').hidden = true;
      if (msg.type === 'empty') {
        $('file').textContent = 'No file';
        resetFile.disabled = true;
      }
      setStatus(msg.message);
      $('status').classList.toggle('error', msg.type === 'error');
      return;
    }
    if (msg.type === 'report') {
      lastReport = msg.report;
      resetFile.disabled = false;
      renderReport(msg.report);
    }
  }

  function renderReport(/** @type {any} */ r) {
    $('content').hidden = false;
    $('file').textContent =
      `${r.file} \u00b7 ${r.language} \u00b7 ${int(r.tokens)} tokens \u00b7 ${int(r.bytes)} bytes` +
      (r.truncated ? ` (the first ${int(r.tokens)} of ${int(r.fileTokens)} tokens)` : '');
    if (r.evaluating) {
      const { done, total } = r.evaluating;
      setStatus(
        total > 0
          ? `Updating after your edits: ${int(done)} of ${int(total)} tokens`
          : 'Updating after your edits...',
        true,
      );
      showProgress(done, total);
    } else if (r.outdated) setStatus('The text changed; the numbers update when you pause typing.');
    else setStatus('');

    $('static').textContent = f3(r.staticBitsPerByte);
    $('adapted').textContent = f3(r.adaptedBitsPerByte);
    $('whole-file').textContent =
      `bits per byte; ${f3(r.wholeFileBitsPerByte)} from the whole file` +
      (r.fileCache
        ? `; ${f3(r.fileCache.bitsPerByte)} with the file's n-gram cache too (${r.fileCache.gainPct.toFixed(1)}% lower than without adaptation)`
        : '') +
      (r.repository
        ? `; ${f3(r.repository.bitsPerByte)} with the repository too (${r.repository.gainPct.toFixed(1)}% lower)` +
          repositoryFiles(r.repository.files)
        : '');
    $('gain').textContent = gainText(r.gainPct);
    $('gain').classList.toggle('negative', r.gainPct < 0);
    $('gain').classList.toggle('neutral', r.gainPct === 0);
    $('gain-note').textContent =
      r.gainPct > 0 ? 'fewer bits per byte' : r.gainPct < 0 ? 'more bits per byte' : 'no change';

    const status = r.state.status;
    const badge = $('state-status');
    badge.textContent = {
      current: 'current',
      folded: 'folded',
      rebuilding: 'rebuilding',
      empty: 'empty',
      dropped: 'dropped',
      none: 'no state',
    }[status];
    badge.className = `badge ${status}`;
    $('state-tokens').textContent = int(r.state.tokens);
    $('state-note').textContent =
      status === 'empty'
        ? ` \u2014 completions use the model without adaptation until the state is rebuilt (after an edit). ` +
          `This text would get ${f3(r.evaluated.adaptedBitsPerByte)} bits per byte (a ${gainText(r.evaluated.gainPct)} gain).`
        : status === 'dropped'
          ? ' \u2014 dropped to stay within fastweights.adaptation.maxMemoryMB (other files were used more ' +
            'recently); it is built again when you focus or edit this file'
          : status === 'folded'
            ? ' \u2014 folded to save memory: exact near the cursor, computed in full again when you edit the ' +
              'file or move away'
            : status === 'rebuilding'
              ? ' \u2014 being rebuilt from the current text'
              : status === 'none'
                ? ' \u2014 this file has no state'
                : '';
    $('eval-note').textContent =
      'Lower is better: bits per byte measure how surprised the model is by each byte of the file. ' +
      '"With adaptation" predicts each token with a state built from the text before it, as ' +
      `\`fastweights eval\` does. Scored in ${r.seconds.toFixed(1)} s.`;

    renderChart(r);
    renderBlocksTable(r);
    renderCompletions(r.completions);
    renderRuntime(r);
    vscode.postMessage({
      type: 'rendered',
      headline: {
        file: r.file,
        static: $('static').textContent || '',
        adapted: $('adapted').textContent || '',
        gain: $('gain').textContent || '',
        stateTokens: $('state-tokens').textContent || '',
        stateStatus: badge.textContent || '',
      },
    });
  }

  /** @param {number} i */
  function reveal(i) {
    const b = lastReport && lastReport.blocks[i];
    if (b) vscode.postMessage({ type: 'reveal', startLine: b.startLine, endLine: b.endLine });
  }

  /** A round tick step (1, 2, 2.5 or 5 x 10^k) that splits `span` into about `parts`. @param {number} span @param {number} parts */
  function tickStep(span, parts) {
    const raw = Math.max(span, 1e-9) / parts;
    const p = Math.pow(10, Math.floor(Math.log10(raw)));
    for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= raw) return m * p;
    return 10 * p;
  }
  /** Tick labels with as many decimals as the step needs. @param {number} v @param {number} step */
  function tickText(v, step) {
    let decimals = Math.max(0, Math.ceil(-Math.log10(step) - 1e-9));
    if (Math.abs(step * 10 ** decimals - Math.round(step * 10 ** decimals)) > 1e-6) decimals++;
    return v.toFixed(decimals);
  }

  /**
   * Two plots over the same blocks: bits per byte without and with adaptation (lines), and the bits each
   * block saves (bars up for a gain, down for a loss; they add up to the file's gain). A click anywhere in a
   * block's column reveals its lines.
   */
  function renderChart(/** @type {any} */ r) {
    const box = $('chart');
    const blocks = r.blocks;
    $('chart-caption').textContent = blocks.length
      ? `Blocks of ${r.linesPerBlock === 1 ? 'one line' : `${r.linesPerBlock} lines`}. ` +
        'Click a block to show its lines in the editor.'
      : 'No blocks to show.';
    if (!blocks.length) return box.replaceChildren();
    const W = Math.max(300, box.clientWidth || 600);
    const m = { l: 46, r: 10 };
    const top = { y: 18, h: 150 };
    const bottom = { y: top.y + top.h + 30, h: 80 };
    const H = bottom.y + bottom.h + 26;
    const plotW = W - m.l - m.r;
    const colW = plotW / blocks.length;
    /** @param {number} i */
    const x = (i) => m.l + colW * (i + 0.5);

    let bpbMax = 0;
    let savedMax = 0;
    let savedMin = 0;
    for (const b of blocks) {
      bpbMax = Math.max(bpbMax, b.staticBitsPerByte, b.adaptedBitsPerByte);
      savedMax = Math.max(savedMax, b.bitsSaved);
      savedMin = Math.min(savedMin, b.bitsSaved);
    }
    // Flat data (a reset state saves nothing) still gets a readable axis.
    const bpbStep = tickStep(Math.max(bpbMax, 0.1), 3);
    bpbMax = Math.max(1, Math.ceil(bpbMax / bpbStep)) * bpbStep;
    const savedStep = tickStep(Math.max(savedMax - savedMin, 2), 2);
    savedMax = Math.max(1, Math.ceil(savedMax / savedStep)) * savedStep;
    savedMin = Math.floor(savedMin / savedStep) * savedStep;
    /** @param {number} v */
    const y1 = (v) => top.y + (1 - v / bpbMax) * top.h;
    /** @param {number} v */
    const y2 = (v) => bottom.y + ((savedMax - v) / (savedMax - savedMin)) * bottom.h;

    const root = svg('svg', {
      width: W,
      height: H,
      viewBox: `0 0 ${W} ${H}`,
      role: 'img',
      'aria-label':
        'Chart of bits per byte by block of lines, without and with adaptation, and the gain of each block. ' +
        'The table below holds the same numbers.',
    });
    /** @param {number} yPos @param {string} label */
    const gridLine = (yPos, label) =>
      root.append(
        svg('line', { class: 'grid', x1: m.l, x2: W - m.r, y1: yPos, y2: yPos }),
        svg('text', { class: 'tick', x: m.l - 6, y: yPos + 3.5, 'text-anchor': 'end' }, [label]),
      );
    for (let v = 0; v <= bpbMax + bpbStep / 2; v += bpbStep) gridLine(y1(v), tickText(v, bpbStep));
    for (let v = savedMin; v <= savedMax + savedStep / 2; v += savedStep)
      gridLine(y2(v), tickText(v, savedStep));
    root.append(
      svg('text', { class: 'axis-title', x: m.l, y: top.y - 7 }, ['Bits per byte']),
      svg('text', { class: 'axis-title', x: m.l, y: bottom.y - 9 }, ['Bits saved by adaptation']),
      svg('line', { class: 'zero', x1: m.l, x2: W - m.r, y1: y2(0), y2: y2(0) }),
    );

    /** @param {string} key */
    const points = (key) =>
      blocks.map((/** @type {any} */ b, /** @type {number} */ i) => `${x(i)},${y1(b[key])}`).join(' ');
    if (blocks.length > 1) {
      root.append(
        svg('polyline', { class: 'line static', points: points('staticBitsPerByte') }),
        svg('polyline', { class: 'line adapted', points: points('adaptedBitsPerByte') }),
      );
    }
    const barW = Math.max(1.5, Math.min(colW * 0.7, 24));
    blocks.forEach((/** @type {any} */ b, /** @type {number} */ i) => {
      root.append(
        svg('circle', { class: 'dot static', cx: x(i), cy: y1(b.staticBitsPerByte), r: 2.5 }),
        svg('circle', { class: 'dot adapted', cx: x(i), cy: y1(b.adaptedBitsPerByte), r: 3 }),
      );
      const h = Math.abs(y2(b.bitsSaved) - y2(0));
      if (h >= 0.5)
        root.append(
          svg('rect', {
            class: b.bitsSaved >= 0 ? 'bar gain' : 'bar loss',
            x: x(i) - barW / 2,
            y: Math.min(y2(b.bitsSaved), y2(0)),
            width: barW,
            height: h,
          }),
        );
    });
    // Line numbers under the blocks, as many as fit.
    const every = Math.max(1, Math.ceil(40 / colW));
    blocks.forEach((/** @type {any} */ b, /** @type {number} */ i) => {
      if (i % every === 0)
        root.append(
          svg('text', { class: 'tick', x: x(i), y: H - 10, 'text-anchor': 'middle' }, [
            String(b.startLine + 1),
          ]),
        );
    });
    root.append(svg('text', { class: 'tick', x: W - m.r, y: H, 'text-anchor': 'end' }, ['line']));
    // Click targets: a block's whole column over both plots, with a tooltip.
    blocks.forEach((/** @type {any} */ b, /** @type {number} */ i) => {
      const hit = svg(
        'rect',
        { class: 'hit', x: m.l + colW * i, y: top.y, width: colW, height: bottom.y + bottom.h - top.y },
        [
          svg('title', {}, [
            `Lines ${lines(b)}: ${f3(b.staticBitsPerByte)} without, ${f3(b.adaptedBitsPerByte)} with ` +
              `adaptation (gain ${gainText(b.gainPct)}, ${b.bitsSaved.toFixed(0)} bits saved)`,
          ]),
        ],
      );
      hit.setAttribute('data-block', String(i));
      hit.addEventListener('click', () => reveal(i));
      root.append(hit);
    });
    box.replaceChildren(root);
  }

  function renderBlocksTable(/** @type {any} */ r) {
    const table = $('blocks-table');
    const focused = document.activeElement && document.activeElement.getAttribute('data-block');
    const head = el('thead', {}, [
      el('tr', {}, [
        el('th', { scope: 'col' }, ['Lines']),
        el('th', { scope: 'col', class: 'num' }, ['Tokens']),
        el('th', { scope: 'col', class: 'num' }, ['Without']),
        el('th', { scope: 'col', class: 'num' }, ['With']),
        el('th', { scope: 'col', class: 'num' }, ['Gain']),
        el('th', { scope: 'col', class: 'num' }, ['Bits saved']),
        el('th', { scope: 'col' }, [el('span', { class: 'visually-hidden' }, ['Show in editor'])]),
      ]),
    ]);
    const rows = r.blocks.map((/** @type {any} */ b, /** @type {number} */ i) => {
      const button = el(
        'button',
        {
          type: 'button',
          class: 'link',
          'data-block': String(i),
          'aria-label': `Show lines ${lines(b)} in the editor`,
        },
        ['Show'],
      );
      button.addEventListener('click', () => reveal(i));
      return el('tr', {}, [
        el('th', { scope: 'row' }, [lines(b)]),
        el('td', { class: 'num' }, [int(b.tokens)]),
        el('td', { class: 'num' }, [f3(b.staticBitsPerByte)]),
        el('td', { class: 'num' }, [f3(b.adaptedBitsPerByte)]),
        el('td', { class: b.gainPct < 0 ? 'num negative' : 'num' }, [gainText(b.gainPct)]),
        el('td', { class: 'num' }, [b.bitsSaved.toFixed(1)]),
        el('td', {}, [button]),
      ]);
    });
    const caption = table.querySelector('caption');
    table.replaceChildren(...(caption ? [caption] : []), head, el('tbody', {}, rows));
    // A live update must not take the keyboard focus away from the row the user is on.
    if (focused !== null) {
      const again = table.querySelector(`button[data-block="${focused}"]`);
      if (again) /** @type {HTMLElement} */ (again).focus();
    }
  }

  function renderCompletions(/** @type {any} */ c) {
    const table = $('completions-table');
    if (!c) {
      table.replaceChildren(
        el('caption', { class: 'muted' }, ['Completion statistics are not available yet.']),
      );
      return;
    }
    /** @param {any} s */
    const rate = (s) => (s.acceptanceRate === null ? '\u2013' : `${(s.acceptanceRate * 100).toFixed(0)}%`);
    /** @param {any} s */
    const latency = (s) => (s.latencyMs ? `${int(s.latencyMs.p50)} / ${int(s.latencyMs.p95)} ms` : '\u2013');
    /** @param {string} label @param {(s: any) => string} f */
    const row = (label, f) =>
      el('tr', {}, [
        el('th', { scope: 'row' }, [label]),
        el('td', { class: 'num' }, [f(c.file)]),
        el('td', { class: 'num' }, [f(c.session)]),
      ]);
    table.replaceChildren(
      el('thead', {}, [
        el('tr', {}, [
          el('td', {}, []),
          el('th', { scope: 'col', class: 'num' }, ['This file']),
          el('th', { scope: 'col', class: 'num' }, ['Session']),
        ]),
      ]),
      el('tbody', {}, [
        row('Shown', (s) => int(s.shown)),
        row('Accepted', (s) => int(s.accepted)),
        row('Acceptance rate', rate),
        row('Keystrokes saved', (s) => int(s.keystrokesSaved)),
        row('Latency p50 / p95', latency),
      ]),
    );
  }

  function renderRuntime(/** @type {any} */ r) {
    const rt = r.runtime;
    /** @param {string} term @param {string} text */
    const item = (term, text) => [el('dt', {}, [term]), el('dd', {}, [text])];
    const provider = `${rt.provider} (setting: ${rt.requested})`;
    const model = `${rt.model} (${rt.precision} graphs)${rt.modelShape ? ` \u2014 ${rt.modelShape}` : ''}${rt.modelDiskBytes ? `, ${size(rt.modelDiskBytes)} on disk` : ''}`;
    const states =
      `${size(r.state.bytes)} for this file; ${size(rt.statesBytes)} for ` +
      `${rt.statesCount} adapted file${rt.statesCount === 1 ? '' : 's'} in all`;
    const providerItem = item('Execution provider', provider);
    const reasonOpen = /** @type {HTMLDetailsElement|null} */ ($('runtime').querySelector('details.reason'))
      ?.open;
    // Why the CPU runs when CUDA was asked for: onnxruntime's own message, long, so behind a disclosure.
    if (rt.fallbackReason)
      providerItem[1].append(
        el('details', reasonOpen ? { class: 'reason', open: '' } : { class: 'reason' }, [
          el('summary', {}, ['Why not CUDA']),
          el('p', {}, [rt.fallbackReason]),
        ]),
      );
    $('runtime').replaceChildren(
      ...providerItem,
      ...item('Model', model),
      ...item('Adaptation states', states),
    );
  }

  $('reset-file').addEventListener('click', () => vscode.postMessage({ type: 'resetFile' }));
  $('reset-all').addEventListener('click', () => vscode.postMessage({ type: 'resetAll' }));
  window.addEventListener('message', (event) => render(event.data));
  let resizeTimer = 0;
  window.addEventListener('resize', () => {
    window.clearTimeout(resizeTimer);
    resizeTimer = window.setTimeout(() => lastReport && renderChart(lastReport), 100);
  });
  vscode.postMessage({ type: 'ready' });
})();
