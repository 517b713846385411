/**
 * The panel page's HTML: a static skeleton that media/gain.js fills in. Strict Content-Security-Policy:
 * scripts only with this page's nonce, styles and images only from the extension's media folder.
 */
import { randomBytes } from 'node:crypto';

export interface PageAssets {
  cspSource: string;
  script: string;
  style: string;
}

export function makeNonce(): string {
  return randomBytes(18).toString('base64url');
}

export function panelHtml(assets: PageAssets, nonce: string = makeNonce()): string {
  const csp = [
    "default-src 'none'",
    `img-src ${assets.cspSource}`,
    `style-src ${assets.cspSource}`,
    `script-src 'nonce-${nonce}'`,
  ].join('; ');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${assets.style}">
<title>FastWeights: Adaptation Gain</title>
</head>
<body>
<header class="top">
  <div>
    <h1>Adaptation gain</h1>
    <p class="muted" id="file">No file yet</p>
  </div>
  <div class="actions">
    <button type="button" id="reset-file" disabled>Reset this file</button>
    <button type="button" id="reset-all" class="secondary">Reset all</button>
  </div>
</header>
<p id="status" class="muted" role="status" aria-live="polite">Waiting for the evaluation...</p>
<progress id="progress" hidden></progress>
<main id="content" hidden>
  <section aria-labelledby="h-headline" class="headline">
    <h2 id="h-headline" class="visually-hidden">Bits per byte on this file</h2>
    <div class="cards">
      <div class="card"><div class="label">Without adaptation</div><div class="value" id="static"></div><div class="unit">bits per byte</div></div>
      <div class="card"><div class="label">With adaptation</div><div class="value" id="adapted"></div><div class="unit" id="whole-file"></div></div>
      <div class="card gain-card"><div class="label">Gain</div><div class="value" id="gain"></div><div class="unit" id="gain-note"></div></div>
    </div>
    <p id="state-line"><span class="badge" id="state-status"></span> State built from <strong id="state-tokens"></strong> tokens<span id="state-note" class="muted"></span></p>
    <p id="eval-note" class="muted"></p>
  </section>
  <section aria-labelledby="h-chart">
    <h2 id="h-chart">Along the file</h2>
    <p class="muted" id="chart-caption"></p>
    <div id="chart"></div>
    <div class="legend" aria-hidden="true"><span class="key static"></span>without adaptation <span class="key adapted"></span>with adaptation <span class="key gain"></span>bits saved <span class="key loss"></span>bits lost</div>
    <details id="chart-details">
      <summary>Table of the chart</summary>
      <table id="blocks-table"><caption class="visually-hidden">Bits per byte by block of lines</caption></table>
    </details>
  </section>
  <section aria-labelledby="h-completions">
    <h2 id="h-completions">Completions</h2>
    <table id="completions-table"></table>
  </section>
  <section aria-labelledby="h-runtime">
    <h2 id="h-runtime">Runtime</h2>
    <dl id="runtime"></dl>
  </section>
</main>
<script nonce="${nonce}" src="${assets.script}"></script>
</body>
</html>`;
}
