'use strict';
// Records every request the browser makes while a test drives the workbench: the page, all its frames (the
// webview iframes among them), the service workers (the webview's own serves its resources) and WebSockets.
// A request is local when it goes to the code-server under test, or never leaves the browser: data: and
// blob: URLs, the webview resource schemes, and webview resource URLs (https://*.vscode-resource.vscode-cdn.net)
// that the webview's service worker answered. Anything else is an offender: a test fails on it.
const LOCAL_SCHEMES = new Set(['data:', 'blob:', 'vscode-webview:', 'vscode-resource:', 'vscode-file:']);
// Webview resource URLs: fine when the webview's service worker answers them from the local server, an
// outbound request to a real internet host otherwise.
const WEBVIEW_RESOURCE_HOST = /\.vscode-resource\.vscode-cdn\.net$/i;

/**
 * Starts recording on a Playwright browser context; `serverOrigin` is the code-server's origin
 * (http://127.0.0.1:PORT). `phase(name)` labels the requests that follow (e.g. 'panel'); `report(phases)`
 * lists the offenders among the requests of those phases (all phases when omitted).
 */
function recordNetwork(context, serverOrigin) {
  const origin = new URL(serverOrigin).origin;
  const entries = [];
  const byRequest = new Map();
  const settling = new Set();
  let phase = 'start';

  function frameUrl(request) {
    try {
      return request.frame().url();
    } catch {
      return undefined; // a service worker's request has no frame
    }
  }

  function add(kind, url, extra) {
    const entry = { phase, kind, url, ...extra };
    entries.push(entry);
    return entry;
  }

  const onRequest = (request) => {
    const entry = add('request', request.url(), {
      method: request.method(),
      resourceType: request.resourceType(),
      frame: frameUrl(request),
      serviceWorker: request.serviceWorker() ? request.serviceWorker().url() : undefined,
      outcome: 'pending',
    });
    byRequest.set(request, entry);
  };
  const onFinished = (request) => {
    const entry = byRequest.get(request);
    if (!entry) return;
    const done = request
      .response()
      .catch(() => null)
      .then((response) => {
        entry.outcome = 'finished';
        if (response) {
          entry.status = response.status();
          entry.fromServiceWorker = response.fromServiceWorker();
        }
      })
      .finally(() => settling.delete(done));
    settling.add(done);
  };
  const onFailed = (request) => {
    const entry = byRequest.get(request);
    if (!entry) return;
    entry.outcome = 'failed';
    entry.failure = request.failure()?.errorText;
  };
  const watchPage = (page) => page.on('websocket', (ws) => add('websocket', ws.url(), {}));

  context.on('request', onRequest);
  context.on('requestfinished', onFinished);
  context.on('requestfailed', onFailed);
  context.on('page', watchPage);
  context.pages().forEach(watchPage);

  function classify(entry) {
    let url;
    try {
      url = new URL(entry.url);
    } catch {
      return `unparsable URL`;
    }
    if (LOCAL_SCHEMES.has(url.protocol)) return undefined;
    if (url.protocol === 'ws:' || url.protocol === 'wss:') {
      const http = `${url.protocol === 'wss:' ? 'https:' : 'http:'}//${url.host}`;
      return http === origin ? undefined : `WebSocket to ${url.host}`;
    }
    if (url.origin === origin) return undefined;
    if (WEBVIEW_RESOURCE_HOST.test(url.hostname)) {
      return entry.fromServiceWorker ? undefined : `webview resource not served locally (${entry.outcome})`;
    }
    return `request to ${url.origin}`;
  }

  return {
    phase(name) {
      phase = name;
    },
    entries,
    /** Waits for the responses being read (call before offenders()). */
    async settle() {
      await Promise.all([...settling]);
    },
    /** Offenders among the recorded requests of `phases` (all when omitted), with why. */
    offenders(phases) {
      return entries
        .filter((e) => !phases || phases.includes(e.phase))
        .map((e) => ({ ...e, why: classify(e) }))
        .filter((e) => e.why !== undefined);
    },
    /** Counts per phase and per origin (scheme for data:/blob:), for the test's JSON report. */
    summary(phases) {
      const counts = {};
      for (const e of entries) {
        if (phases && !phases.includes(e.phase)) continue;
        let key;
        try {
          const u = new URL(e.url);
          key = LOCAL_SCHEMES.has(u.protocol) ? u.protocol : `${u.protocol}//${u.host}`;
        } catch {
          key = 'unparsable';
        }
        if (e.fromServiceWorker) key += ' (service worker)';
        counts[e.phase] ??= {};
        counts[e.phase][key] = (counts[e.phase][key] ?? 0) + 1;
      }
      return counts;
    },
    stop() {
      context.off('request', onRequest);
      context.off('requestfinished', onFinished);
      context.off('requestfailed', onFailed);
      context.off('page', watchPage);
    },
  };
}

module.exports = { recordNetwork };
