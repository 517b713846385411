'use strict';
// Records outbound connection attempts in the extension host process: the Node APIs that open connections
// are wrapped (the attempt is recorded with its stack, then goes on as usual), and the process's own
// sockets are read from /proc every 100 ms, which also sees the model worker and native code.
const dgram = require('dgram');
const dns = require('dns');
const http = require('http');
const https = require('https');
const net = require('net');
const tls = require('tls');
const fs = require('fs');

const LOOPBACK_NAMES = new Set(['localhost', '127.0.0.1', '::1', '0.0.0.0', '::']);

function isLocal(target) {
  if (target === undefined || target === null || target === '') return true;
  const host = String(target)
    .replace(/^\[|\]$/g, '')
    .toLowerCase();
  return LOOPBACK_NAMES.has(host) || host.startsWith('127.') || host.startsWith('::ffff:127.');
}

/** host of the many argument shapes connect(), request() and fetch() accept; undefined for IPC paths. */
function hostOf(args) {
  const [a, b] = args;
  if (Array.isArray(a)) return hostOf(a);
  if (typeof a === 'string') {
    if (/^[a-z]+:\/\//i.test(a)) return new URL(a).hostname;
    return typeof b === 'string' ? b : a.startsWith('/') ? undefined : a;
  }
  if (a instanceof URL) return a.hostname;
  if (typeof a === 'number') return typeof b === 'string' ? b : 'localhost';
  if (a && typeof a === 'object') {
    if (a.path || a.socketPath) return undefined;
    if (typeof a.url === 'string') return new URL(a.url).hostname;
    return a.hostname || a.host || 'localhost';
  }
  return undefined;
}

/** Remote addresses of this process's sockets that are neither loopback nor unconnected. */
function remoteSockets() {
  let inodes;
  try {
    inodes = new Set(
      fs
        .readdirSync('/proc/self/fd')
        .map((fd) => {
          try {
            return /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/self/fd/${fd}`));
          } catch {
            return null;
          }
        })
        .filter(Boolean)
        .map((m) => m[1]),
    );
  } catch {
    return []; // not Linux: the API wrappers still record
  }
  const found = [];
  for (const table of ['tcp', 'tcp6', 'udp', 'udp6']) {
    let rows;
    try {
      rows = fs.readFileSync(`/proc/self/net/${table}`, 'utf8').trim().split('\n').slice(1);
    } catch {
      continue;
    }
    for (const row of rows) {
      const cols = row.trim().split(/\s+/);
      const [addr] = cols[2].split(':');
      if (!inodes.has(cols[9]) || /^0+$/.test(addr)) continue;
      const loopback = table.endsWith('6')
        ? addr === '00000000000000000000000001000000' || /^0000000000000000FFFF0000[0-9A-F]{6}7F$/i.test(addr)
        : addr.endsWith('7F');
      if (!loopback) found.push(`${table} ${cols[2]}`);
    }
  }
  return found;
}

function install() {
  const attempts = [];
  const record = (api, target) => {
    if (!isLocal(target)) attempts.push({ api, target: String(target), stack: new Error().stack || '' });
  };
  const wrap = (obj, name, api) => {
    const original = obj[name];
    if (typeof original !== 'function') return;
    obj[name] = function (...args) {
      try {
        record(api, hostOf(args));
      } catch {
        // an argument shape we do not know: the call itself decides
      }
      return original.apply(this, args);
    };
  };
  wrap(net.Socket.prototype, 'connect', 'net.connect');
  wrap(tls, 'connect', 'tls.connect');
  wrap(http, 'request', 'http.request');
  wrap(http, 'get', 'http.get');
  wrap(https, 'request', 'https.request');
  wrap(https, 'get', 'https.get');
  wrap(dns, 'lookup', 'dns.lookup');
  wrap(dns, 'resolve', 'dns.resolve');
  wrap(dns.promises, 'lookup', 'dns.promises.lookup');
  wrap(globalThis, 'fetch', 'fetch');
  const createSocket = dgram.createSocket;
  dgram.createSocket = function (...args) {
    const socket = createSocket.apply(this, args);
    const send = socket.send;
    socket.send = function (...sendArgs) {
      const host = sendArgs.find((a, i) => i > 0 && typeof a === 'string');
      record('dgram.send', host || 'localhost');
      return send.apply(this, sendArgs);
    };
    return socket;
  };
  const sockets = new Set();
  const timer = setInterval(() => remoteSockets().forEach((s) => sockets.add(s)), 100);
  timer.unref();
  return {
    /** Non-local attempts whose stack passes through `folder` (an extension's install folder). */
    attemptsFrom: (folder) => attempts.filter((a) => a.stack.includes(folder)),
    all: () => attempts.slice(),
    remoteSockets: () => [...sockets],
    /** Records an attempt as a test of the recorder itself. */
    probe: (host) => record('probe', host),
  };
}

module.exports = { install, isLocal, hostOf, remoteSockets };
