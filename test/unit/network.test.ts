/**
 * Nothing leaves the machine and nothing is written to disk, checked on what ships: the bundles the
 * extension runs (out/extension.js, out/worker.js) and the webview's script hold no network or file-write
 * API, and the webview page allows nothing but its own nonce'd script and the extension's media.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { panelHtml } from '../../src/panel/html';
import { ROOT } from './helpers';

const BUNDLES = ['out/extension.js', 'out/worker.js'];
const WEBVIEW_SCRIPTS = fs
  .readdirSync(path.join(ROOT, 'media'))
  .filter((f) => f.endsWith('.js'))
  .map((f) => path.join('media', f));

/** Node modules and globals that open connections. */
const NETWORK = [
  /require\("(node:)?(net|http|https|http2|tls|dns|dgram|undici)"\)/,
  /\bfetch\(/,
  /\bWebSocket\b/,
  /\bXMLHttpRequest\b/,
  /\bEventSource\b/,
  /\bsendBeacon\b/,
];
/** File writes: the extension keeps its states in memory only. */
const DISK_WRITES = [
  /\b(writeFileSync|writeFile|appendFileSync|appendFile|createWriteStream|copyFileSync|renameSync)\(/,
  /\b(globalStorageUri|storageUri|globalState|workspaceState)\b/,
];

function findAll(file: string, patterns: RegExp[]): string[] {
  const lines = fs.readFileSync(path.join(ROOT, file), 'utf8').split('\n');
  const hits: string[] = [];
  lines.forEach((line, i) => {
    for (const p of patterns) if (p.test(line)) hits.push(`${file}:${i + 1}: ${line.trim().slice(0, 120)}`);
  });
  return hits;
}

describe('reliability: no network, no disk writes (static scan of what ships)', () => {
  for (const file of BUNDLES) {
    it(`${file} opens no connection and writes no file`, () => {
      assert.ok(fs.existsSync(path.join(ROOT, file)), `${file} is built (npm run build)`);
      assert.deepEqual(findAll(file, NETWORK), [], 'network API in the bundle');
      assert.deepEqual(findAll(file, DISK_WRITES), [], 'file-write API in the bundle');
    });
  }

  it('the webview scripts open no connection', () => {
    assert.ok(WEBVIEW_SCRIPTS.length > 0, 'media/ holds the webview script');
    for (const file of WEBVIEW_SCRIPTS) assert.deepEqual(findAll(file, NETWORK), [], file);
  });

  it('the scan finds what it looks for (it can fail)', () => {
    const probe = path.join('out', 'network-probe.js');
    fs.writeFileSync(path.join(ROOT, probe), 'const n = require("net");\nfetch("https://x");\n');
    try {
      assert.equal(findAll(probe, NETWORK).length, 2);
    } finally {
      fs.rmSync(path.join(ROOT, probe));
    }
  });
});

describe('reliability: webview content security policy', () => {
  const assets = {
    cspSource: 'vscode-resource:',
    script: 'vscode-resource:/media/gain.js',
    style: 'vscode-resource:/media/gain.css',
  };
  const html = panelHtml(assets, 'test-nonce-123');
  const csp = /http-equiv="Content-Security-Policy" content="([^"]+)"/.exec(html)?.[1] ?? '';

  it("denies by default and allows scripts by nonce only, with no 'unsafe-*' source", () => {
    const directives = new Map(
      csp.split(';').map((d) => {
        const [name = '', ...values] = d.trim().split(/\s+/);
        return [name, values] as const;
      }),
    );
    assert.deepEqual(directives.get('default-src'), ["'none'"]);
    assert.deepEqual(directives.get('script-src'), ["'nonce-test-nonce-123'"]);
    assert.ok(!directives.has('connect-src'), 'no connect-src: the page may not fetch');
    assert.doesNotMatch(csp, /unsafe-|https?:|\*/);
  });

  it('every script tag carries the nonce and loads a local file', () => {
    const scripts = [...html.matchAll(/<script\b[^>]*>/g)].map((m) => m[0]);
    assert.ok(scripts.length > 0);
    for (const tag of scripts) {
      assert.match(tag, /nonce="test-nonce-123"/);
      assert.doesNotMatch(tag, /src="https?:/);
    }
    assert.doesNotMatch(html, /(src|href)="https?:/, 'no remote resource in the page');
  });

  it('makes a fresh nonce for every page', () => {
    const nonce = (h: string): string => /'nonce-([^']+)'/.exec(h)?.[1] ?? '';
    const a = nonce(panelHtml(assets));
    const b = nonce(panelHtml(assets));
    assert.ok(a.length >= 16 && b.length >= 16 && a !== b);
  });
});
