'use strict';
// Starts a private code-server (VS Code 1.100 server + real Node extension host) on 127.0.0.1.
// Every run gets its own user-data, extensions and XDG folders, so nothing leaks between runs or from the
// machine's own setup (onnxruntime, for one, writes under $XDG_CACHE_HOME).
const { spawn, execFile } = require('child_process');
const fs = require('fs');
const http = require('http');
const net = require('net');
const path = require('path');
const { promisify } = require('util');

const HERE = __dirname;
const ENTRY = path.join(HERE, 'node_modules', 'code-server', 'out', 'node', 'entry.js');

// Settings for an unattended, offline workbench. hotExit off: a reused profile would restore old text.
const BASE_SETTINGS = {
  'files.hotExit': 'off',
  'workbench.startupEditor': 'none',
  'workbench.tips.enabled': false,
  'workbench.welcomePage.walkthroughs.openOnInstall': false,
  'workbench.enableExperiments': false,
  'telemetry.telemetryLevel': 'off',
  'security.workspace.trust.enabled': false,
  'extensions.autoUpdate': false,
  'extensions.autoCheckUpdates': false,
  'extensions.ignoreRecommendations': true,
  'update.mode': 'none',
  'chat.commandCenter.enabled': false,
  'editor.inlineSuggest.enabled': true,
  'git.enabled': false,
};

function ensureInstalled() {
  if (!fs.existsSync(ENTRY)) {
    throw new Error(
      `code-server is not installed; run: bash ${path.relative(process.cwd(), path.join(HERE, 'install.sh'))}`,
    );
  }
}

/** A fresh folder under tools/vscode-host/.cache/runs/ (git-ignored). */
function makeRunDir(prefix) {
  const root = path.join(HERE, '.cache', 'runs');
  fs.mkdirSync(root, { recursive: true });
  return fs.mkdtempSync(path.join(root, `${prefix}-`));
}

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

function get(url) {
  return new Promise((resolve) => {
    const req = http.get(url, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.on('error', () => resolve(0));
    req.setTimeout(2000, () => {
      req.destroy();
      resolve(0);
    });
  });
}

/** Private folders of one run; env points the server and its extension host at them. */
function runDirs(base, { userDataDir, extensionsDir } = {}) {
  const dirs = {
    base,
    userData: userDataDir || path.join(base, 'user-data'),
    extensions: extensionsDir || path.join(base, 'extensions'),
    xdgConfig: path.join(base, 'xdg-config'),
    xdgData: path.join(base, 'xdg-data'),
    xdgCache: path.join(base, 'xdg-cache'),
  };
  for (const d of Object.values(dirs)) fs.mkdirSync(d, { recursive: true });
  return dirs;
}

function serverEnv(dirs) {
  return {
    ...process.env,
    XDG_CONFIG_HOME: dirs.xdgConfig,
    XDG_DATA_HOME: dirs.xdgData,
    XDG_CACHE_HOME: dirs.xdgCache,
    // code-server would otherwise pick these up from the environment and change its behaviour.
    PASSWORD: '',
    HASHED_PASSWORD: '',
    VSCODE_PROXY_URI: '',
    // No marketplace: there is no internet, and the workbench would keep trying open-vsx.org.
    EXTENSIONS_GALLERY: '{}',
  };
}

/** Installs a VSIX with code-server's own installer (the same path a user takes). */
async function installVsix(vsix, dirs) {
  ensureInstalled();
  const args = [
    ENTRY,
    '--user-data-dir',
    dirs.userData,
    '--extensions-dir',
    dirs.extensions,
    '--install-extension',
    path.resolve(vsix),
    '--force',
  ];
  const { stdout, stderr } = await promisify(execFile)(process.execPath, args, {
    env: serverEnv(dirs),
    maxBuffer: 1 << 24,
  });
  const out = `${stdout}${stderr}`;
  if (!/successfully installed/i.test(out)) throw new Error(`installing ${vsix} failed:\n${out}`);
  // The installed folder: code-server names it <publisher>.<name>-<version>[-<target>].
  const folders = fs
    .readdirSync(dirs.extensions)
    .filter((f) => fs.statSync(path.join(dirs.extensions, f)).isDirectory());
  return folders.map((f) => path.join(dirs.extensions, f));
}

/**
 * Starts code-server and resolves once GET /healthz answers 200.
 * opts: folder (workspace to open), base (run folder; fresh if omitted), settings (merged over BASE_SETTINGS),
 *       vsix (paths to install first), userDataDir/extensionsDir (override), port, log (a writable stream or null).
 * Returns { url, port, folder, dirs, proc, stop() }.
 */
async function startServer(opts = {}) {
  ensureInstalled();
  const dirs = runDirs(opts.base || makeRunDir('server'), opts);
  const settingsFile = path.join(dirs.userData, 'User', 'settings.json');
  fs.mkdirSync(path.dirname(settingsFile), { recursive: true });
  fs.writeFileSync(settingsFile, JSON.stringify({ ...BASE_SETTINGS, ...(opts.settings || {}) }, null, 2));
  for (const vsix of [].concat(opts.vsix || [])) await installVsix(vsix, dirs);

  const port = opts.port || (await freePort());
  const args = [
    ENTRY,
    '--bind-addr',
    `127.0.0.1:${port}`,
    '--auth',
    'none',
    '--user-data-dir',
    dirs.userData,
    '--extensions-dir',
    dirs.extensions,
    '--disable-telemetry',
    '--disable-update-check',
    '--disable-workspace-trust',
    '--disable-getting-started-override',
    '--ignore-last-opened',
  ];
  if (opts.folder) args.push(path.resolve(opts.folder));
  // Own process group, so stop() can end the server together with its extension host and pty host.
  const proc = spawn(process.execPath, args, {
    env: serverEnv(dirs),
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const log = opts.log === undefined ? null : opts.log;
  let output = '';
  const onData = (d) => {
    output = (output + d).slice(-20000);
    if (log) log.write(d);
  };
  proc.stdout.on('data', onData);
  proc.stderr.on('data', onData);
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve(code ?? signal)));

  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + (opts.timeoutMs || 60000);
  let ready = false;
  while (!ready && Date.now() < deadline) {
    if (proc.exitCode !== null || proc.signalCode !== null) break;
    ready = (await get(`${url}/healthz`)) === 200;
    if (!ready) await new Promise((r) => setTimeout(r, 200));
  }

  let stopped = null;
  const stop = () => {
    if (stopped) return stopped;
    stopped = (async () => {
      if (proc.exitCode === null && proc.signalCode === null) {
        try {
          process.kill(-proc.pid, 'SIGTERM');
        } catch {
          /* already gone */
        }
        const killer = setTimeout(() => {
          try {
            process.kill(-proc.pid, 'SIGKILL');
          } catch {
            /* gone */
          }
        }, 5000);
        await exited;
        clearTimeout(killer);
      }
      // The group may hold children that outlived the server itself (extension host); end them too.
      try {
        process.kill(-proc.pid, 'SIGKILL');
      } catch {
        /* none left */
      }
      if (!opts.keep && !opts.base) fs.rmSync(dirs.base, { recursive: true, force: true });
    })();
    return stopped;
  };

  if (!ready) {
    await stop();
    throw new Error(`code-server did not become ready on ${url}:\n${output}`);
  }
  return {
    url,
    port,
    folder: opts.folder ? path.resolve(opts.folder) : undefined,
    dirs,
    proc,
    stop,
    output: () => output,
  };
}

/** Workbench URL opening a folder, optionally with a test payload (what test-web passes in the URL). */
function workbenchUrl(server, { folder, payload } = {}) {
  const u = new URL(server.url + '/');
  const f = folder || server.folder;
  if (f) u.searchParams.set('folder', path.resolve(f));
  if (payload) u.searchParams.set('payload', JSON.stringify(payload));
  return u.toString();
}

module.exports = { startServer, installVsix, workbenchUrl, makeRunDir, runDirs, BASE_SETTINGS, HERE };

// CLI: node server.js [folder]  — start, print the URL, stop on Ctrl+C (a bare form of start.js).
if (require.main === module) {
  (async () => {
    const server = await startServer({ folder: process.argv[2], log: process.stderr });
    console.log(workbenchUrl(server));
    const quit = () => server.stop().then(() => process.exit(0));
    process.once('SIGINT', quit);
    process.once('SIGTERM', quit);
  })().catch((e) => {
    console.error(e.message || e);
    process.exit(1);
  });
}
