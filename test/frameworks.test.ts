/**
 * The same middleware under every supported host: Express 4, Express 5, Connect, a bare
 * `node:https` handler and `http2.createSecureServer({ allowHTTP1: true })` with a Connect handler
 * (HTTP/2 and HTTP/1.1 clients). Each logs through real morgan with the identity tokens.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import http2 from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Writable } from 'node:stream';
import connect from 'connect';
import express from 'express';
import type morganType from 'morgan';
import { mtlsIdentity } from '../lib/middleware.js';
import { registerMorganTokens } from '../lib/outputs/morgan.js';
import type { DevCertificate, DevCertificateSet } from '../lib/dev-certs/index.js';
import { getTestPki } from './helpers/pki.js';
import { http2MtlsServerOptions, httpsRequest, startHttpsServer } from './helpers/https.js';
import { getPeerIdentity } from '../lib/get-peer-identity.js';

const require = createRequire(import.meta.url);
const express4 = require('express4') as typeof express;
const morgan = require('morgan') as typeof morganType;

let pki: DevCertificateSet;
before(async () => {
  pki = await getTestPki();
  registerMorganTokens(morgan);
});

type Handler = (req: IncomingMessage, res: ServerResponse) => void;

function logSink(): { stream: Writable; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(...chunk.toString('utf8').split('\n').filter((line) => line !== ''));
      callback();
    },
  });
  return { stream, lines };
}

const LOG_FORMAT = ':method :url HTTP/:http-version :status :peer_cert_verify ":peer_cert_subject"';

/** The body every host answers with: where it read the identity from, and what it was. */
function describe(req: IncomingMessage, res: ServerResponse): string {
  const identity = getPeerIdentity(req)!;
  const locals = (res as { locals?: Record<string, unknown> }).locals;
  const where = locals === undefined ? 'getPeerIdentity' : locals.mtls === identity ? 'res.locals' : 'MISMATCH';
  return `${where} ${identity.verify} ${identity.certificate?.subject ?? '-'}`;
}

const HOSTS: Record<string, (log: Writable) => Handler> = {
  'Express 5': (log) => {
    const app = express();
    app.use(morgan(LOG_FORMAT, { stream: log }));
    app.use(mtlsIdentity());
    app.get('/who', (req, res) => {
      res.send(describe(req, res));
    });
    return app;
  },
  'Express 4': (log) => {
    const app = express4();
    app.use(morgan(LOG_FORMAT, { stream: log }));
    app.use(mtlsIdentity());
    app.get('/who', (req, res) => {
      res.send(describe(req, res));
    });
    return app;
  },
  Connect: (log) => {
    const app = connect();
    app.use(morgan(LOG_FORMAT, { stream: log }) as connect.NextHandleFunction);
    app.use(mtlsIdentity());
    app.use('/who', (req: IncomingMessage, res: ServerResponse) => {
      res.end(describe(req, res));
    });
    return app;
  },
  'bare node:https': (log) => {
    const logger = morgan(LOG_FORMAT, { stream: log });
    const identify = mtlsIdentity();
    return (req, res) => {
      logger(req, res, () => identify(req, res, () => res.end(describe(req, res))));
    };
  },
};

const CASES: readonly { client: keyof DevCertificateSet['clients'] | undefined; verify: string; subject: string }[] = [
  { client: 'valid', verify: 'SUCCESS', subject: 'CN=alice,O=mtls-observability demo' },
  { client: 'expired', verify: 'FAILED:CERT_HAS_EXPIRED', subject: 'CN=expired,O=mtls-observability demo' },
  { client: undefined, verify: 'NONE', subject: '-' },
];

for (const [name, build] of Object.entries(HOSTS)) {
  test(`${name}: identity in the handler and in the morgan line`, async () => {
    const log = logSink();
    const server = await startHttpsServer(build(log.stream));
    try {
      const where = name.startsWith('Express') ? 'res.locals' : 'getPeerIdentity';
      for (const { client, verify, subject } of CASES) {
        const response = await httpsRequest({ port: server.port, path: '/who', ...(client ? { client: pki.clients[client] } : {}) });
        assert.equal(response.status, 200);
        assert.equal(response.body, `${where} ${verify} ${subject}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
      assert.deepEqual(log.lines, [
        'GET /who HTTP/1.1 200 SUCCESS "CN=alice,O=mtls-observability demo"',
        'GET /who HTTP/1.1 200 FAILED:CERT_HAS_EXPIRED "CN=expired,O=mtls-observability demo"',
        'GET /who HTTP/1.1 200 NONE "-"',
      ]);
    } finally {
      await server.close();
    }
  });
}

/** One HTTP/2 request on a new session. */
async function http2Get(port: number, path: string, client?: DevCertificate): Promise<{ status: number; body: string }> {
  const session = http2.connect(`https://127.0.0.1:${port}`, {
    ca: pki.ca.certPem,
    servername: 'localhost',
    ...(client ? { cert: client.chainPem, key: client.keyPem } : {}),
  });
  try {
    return await new Promise((resolve, reject) => {
      const stream = session.request({ ':path': path });
      let status = 0;
      let body = '';
      stream.setEncoding('utf8');
      stream.on('response', (headers) => (status = Number(headers[':status'])));
      stream.on('data', (chunk: string) => (body += chunk));
      stream.on('end', () => resolve({ status, body }));
      stream.on('error', reject);
      stream.end();
    });
  } finally {
    await new Promise<void>((resolve) => session.close(() => resolve()));
  }
}

test('http2.createSecureServer({ allowHTTP1: true }) with a Connect handler: HTTP/2 and HTTP/1.1 clients', async () => {
  const log = logSink();
  const app = connect();
  app.use(morgan(LOG_FORMAT, { stream: log.stream }) as connect.NextHandleFunction);
  app.use(mtlsIdentity({ require: true }));
  app.use('/who', (req: IncomingMessage, res: ServerResponse) => {
    res.end(describe(req, res));
  });
  const server = http2.createSecureServer(
    http2MtlsServerOptions(pki),
    app as unknown as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void,
  );
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => sockets.add(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    assert.deepEqual(await http2Get(port, '/who', pki.clients.valid), {
      status: 200,
      body: 'getPeerIdentity SUCCESS CN=alice,O=mtls-observability demo',
    });
    const rejected = await http2Get(port, '/who', pki.clients.selfSigned);
    assert.equal(rejected.status, 403);
    assert.deepEqual(JSON.parse(rejected.body), {
      code: 'ERR_MTLS_CLIENT_CERT_INVALID',
      message: 'The client certificate was not accepted (DEPTH_ZERO_SELF_SIGNED_CERT).',
      verify: 'FAILED:DEPTH_ZERO_SELF_SIGNED_CERT',
    });
    const none = await http2Get(port, '/who');
    assert.equal(none.status, 403);
    assert.deepEqual(JSON.parse(none.body), {
      code: 'ERR_MTLS_CLIENT_CERT_REQUIRED',
      message: 'A client certificate is required.',
      verify: 'NONE',
    });
    const h1 = await httpsRequest({ port, path: '/who', client: pki.clients.valid });
    assert.equal(h1.body, 'getPeerIdentity SUCCESS CN=alice,O=mtls-observability demo');
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.deepEqual(log.lines, [
      'GET /who HTTP/2.0 200 SUCCESS "CN=alice,O=mtls-observability demo"',
      'GET /who HTTP/2.0 403 FAILED:DEPTH_ZERO_SELF_SIGNED_CERT "CN=self-signed,O=mtls-observability demo"',
      'GET /who HTTP/2.0 403 NONE "-"',
      'GET /who HTTP/1.1 200 SUCCESS "CN=alice,O=mtls-observability demo"',
    ]);
  } finally {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
});
