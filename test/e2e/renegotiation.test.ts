/**
 * TLS 1.2 renegotiation with a different client certificate, performed by a real OpenSSL client
 * (test/e2e/renegotiate-client.c, compiled here against Debian's libssl-dev): Node's own client
 * cannot change its certificate. The client completes a full handshake with the trusted `alice`,
 * then renegotiates presenting a self-signed `CN=admin`. Node keeps `authorized === true` after
 * that second handshake and only sets `authorizationError`, so an identity read from `authorized`
 * alone, or cached from the first handshake, would be forged.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http2 from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { createRequire } from 'node:module';
import { Writable } from 'node:stream';
import express from 'express';
import type morganType from 'morgan';
import { createSelfSignedCertificate, type DevCertificate, type DevCertificateSet } from '../../lib/dev-certs/index.js';
import { mtlsIdentity } from '../../lib/middleware.js';
import { registerMorganTokens } from '../../lib/outputs/morgan.js';
import { observeTlsServer, type ObserveTlsServerOptions } from '../../lib/handshake/observer.js';
import { METRIC_MTLS_SERVER_RENEGOTIATIONS } from '../../lib/outputs/semconv.js';
import { getTestPki } from '../helpers/pki.js';
import { http2MtlsServerOptions, startHttpsServer } from '../helpers/https.js';
import { createTestMeter } from '../helpers/metric-reader.js';
import { getPeerIdentity } from '../../lib/get-peer-identity.js';

const run = promisify(execFile);
const require = createRequire(import.meta.url);
const morgan = require('morgan') as typeof morganType;
registerMorganTokens(morgan as never, { formats: false });

const directory = mkdtempSync(join(tmpdir(), 'mtls-renegotiation-'));
after(() => rmSync(directory, { recursive: true, force: true }));
const CLIENT = join(directory, 'renegotiate-client');

let pki: DevCertificateSet;
let admin: DevCertificate;
let bob: DevCertificate;
const files: Record<string, string> = {};

before(async () => {
  pki = await getTestPki();
  [admin, bob] = await Promise.all([
    createSelfSignedCertificate({ subject: 'admin' }),
    pki.ca.issue({ subject: 'bob' }),
  ]);
  const write = (name: string, text: string) => {
    files[name] = join(directory, name);
    writeFileSync(files[name], text);
  };
  write('ca.pem', pki.ca.certPem);
  for (const [name, certificate] of [['alice', pki.clients.valid], ['admin', admin], ['bob', bob]] as const) {
    write(`${name}.pem`, certificate.chainPem);
    write(`${name}-key.pem`, certificate.keyPem);
  }
  const source = new URL('./renegotiate-client.c', import.meta.url).pathname;
  await run('gcc', ['-Wall', '-Werror', '-O1', '-o', CLIENT, source, '-lssl', '-lcrypto']);
});

type Mode = 'first' | 'before' | 'inflight' | 'held' | 'held-finished';

/** Runs the C client: handshake as `from`, renegotiate as `to`; its output and exit status. */
async function renegotiate(port: number, from: string, to: string, mode: Mode): Promise<{ out: string; status: number }> {
  try {
    const { stdout } = await run(CLIENT, [
      String(port),
      files['ca.pem']!,
      files[`${from}.pem`]!,
      files[`${from}-key.pem`]!,
      files[`${to}.pem`]!,
      files[`${to}-key.pem`]!,
      mode,
      ...(mode.startsWith('held') ? ['1500'] : []),
    ]);
    return { out: stdout, status: 0 };
  } catch (error) {
    const failure = error as { stdout?: string; code?: number };
    return { out: failure.stdout ?? '', status: failure.code ?? -1 };
  }
}

/** The response blocks the client printed, by path: status line and body. */
function responses(out: string): Record<string, { status: number; body: string }> {
  const found: Record<string, { status: number; body: string }> = {};
  for (const match of out.matchAll(/^RESPONSE (\S+)\n([\s\S]*?)\nEND$/gm)) {
    const raw = match[2]!;
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(raw)?.[1]);
    found[match[1]!] = { status, body: raw.slice(raw.indexOf('\r\n\r\n') + 4) };
  }
  return found;
}

const ALICE = 'CN=alice,O=mtls-observability demo';
const REJECTED_ADMIN = {
  code: 'ERR_MTLS_CLIENT_CERT_INVALID',
  message: 'The client certificate was not accepted (DEPTH_ZERO_SELF_SIGNED_CERT).',
  verify: 'FAILED:DEPTH_ZERO_SELF_SIGNED_CERT',
};

/**
 * The README's setup: `rejectUnauthorized: false`, `mtlsIdentity({ require: true })`, morgan with
 * the identity tokens. Routes answer the identity they were given. `/inflight` answers only after
 * the connection's next handshake, so the renegotiation happens while it is in flight. `/held`
 * reaches the middleware 300 ms late (as behind a body parser), while the client holds its
 * renegotiation before the Finished.
 */
function app(lines: string[], routeRuns: string[], resolved: unknown[] = []) {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      callback();
    },
  });
  const application = express();
  application.use(morgan(':method :url :status :peer_cert_verify ":peer_cert_subject"', { stream: sink }));
  application.use((req, _res, next) => (req.url === '/held' ? setTimeout(next, 300) : next()));
  application.use((_req, res, next) => {
    next(); // the middleware below runs synchronously
    resolved.push(res.locals.mtls);
  });
  application.use(mtlsIdentity({ require: true, tracing: false, metrics: false }));
  application.get('/inflight', (req, res) => {
    routeRuns.push(req.url);
    const identity = res.locals.mtls;
    (req.socket as TLSSocket).once('secure', () => {
      res.json({ verify: identity.verify, subject: identity.certificate?.subject, now: getPeerIdentity(req)?.verify });
    });
  });
  application.use((req, res) => {
    routeRuns.push(req.url);
    const identity = res.locals.mtls;
    res.json({ verify: identity.verify, subject: identity.certificate?.subject });
  });
  return application;
}

/** morgan writes on 'finish'; give it a moment after the client exits. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

async function httpsApp(observe?: ObserveTlsServerOptions | 'metrics') {
  const lines: string[] = [];
  const routeRuns: string[] = [];
  const resolved: unknown[] = [];
  const server = await startHttpsServer(app(lines, routeRuns, resolved) as (req: IncomingMessage, res: ServerResponse) => void);
  const meter = observe === undefined ? undefined : createTestMeter();
  const observer =
    observe === undefined
      ? undefined
      : observeTlsServer(server.server, { metrics: { meterProvider: meter!.provider }, ...(observe === 'metrics' ? {} : observe) });
  return {
    port: server.port,
    lines,
    routeRuns,
    resolved,
    meter,
    async close() {
      observer?.detach();
      await server.close();
      await meter?.shutdown();
    },
  };
}

test('renegotiating to a self-signed CN=admin before the first request: 403, FAILED:DEPTH_ZERO_SELF_SIGNED_CERT, CN=admin', async () => {
  const server = await httpsApp();
  try {
    const { out, status } = await renegotiate(server.port, 'alice', 'admin', 'first');
    assert.equal(status, 0, out);
    assert.match(out, /^HANDSHAKE TLSv1\.2 \/O=mtls-observability demo\/CN=alice\nRENEGOTIATED \/CN=admin\n/);
    const after = responses(out)['/after']!;
    assert.equal(after.status, 403);
    assert.deepEqual(JSON.parse(after.body), REJECTED_ADMIN);
    await settle();
    assert.deepEqual(server.lines, ['GET /after 403 FAILED:DEPTH_ZERO_SELF_SIGNED_CERT "CN=admin"']);
    assert.deepEqual(server.routeRuns, []);
  } finally {
    await server.close();
  }
});

test('renegotiating after a request: the next request carries the new certificate, not the cached one', async () => {
  const server = await httpsApp();
  try {
    const { out, status } = await renegotiate(server.port, 'alice', 'admin', 'before');
    assert.equal(status, 0, out);
    const seen = responses(out);
    assert.equal(seen['/before']!.status, 200);
    assert.deepEqual(JSON.parse(seen['/before']!.body), { verify: 'SUCCESS', subject: ALICE });
    assert.equal(seen['/after']!.status, 403);
    assert.deepEqual(JSON.parse(seen['/after']!.body), REJECTED_ADMIN);
    await settle();
    assert.deepEqual(server.lines, [
      `GET /before 200 SUCCESS "${ALICE}"`,
      'GET /after 403 FAILED:DEPTH_ZERO_SELF_SIGNED_CERT "CN=admin"',
    ]);
    assert.deepEqual(server.routeRuns, ['/before']);
  } finally {
    await server.close();
  }
});

test('a request in flight during the renegotiation keeps the identity it was resolved with, in its response and its log line', async () => {
  const server = await httpsApp();
  try {
    const { out, status } = await renegotiate(server.port, 'alice', 'admin', 'inflight');
    assert.equal(status, 0, out);
    const seen = responses(out);
    assert.equal(seen['/inflight']!.status, 200);
    // `now`: asked again after the renegotiation, the request still has the identity it started with.
    assert.deepEqual(JSON.parse(seen['/inflight']!.body), { verify: 'SUCCESS', subject: ALICE, now: 'SUCCESS' });
    assert.equal(seen['/after']!.status, 403);
    await settle();
    assert.deepEqual(server.lines, [
      `GET /inflight 200 SUCCESS "${ALICE}"`,
      'GET /after 403 FAILED:DEPTH_ZERO_SELF_SIGNED_CERT "CN=admin"',
    ]);
  } finally {
    await server.close();
  }
});

test('renegotiating to another trusted certificate: the connection is read again (CN=bob, SUCCESS)', async () => {
  const server = await httpsApp();
  try {
    const { out, status } = await renegotiate(server.port, 'alice', 'bob', 'before');
    assert.equal(status, 0, out);
    const seen = responses(out);
    assert.deepEqual(JSON.parse(seen['/before']!.body), { verify: 'SUCCESS', subject: ALICE });
    assert.equal(seen['/after']!.status, 200);
    assert.deepEqual(JSON.parse(seen['/after']!.body), { verify: 'SUCCESS', subject: 'CN=bob' });
    await settle();
    assert.deepEqual(server.lines, [`GET /before 200 SUCCESS "${ALICE}"`, 'GET /after 200 SUCCESS "CN=bob"']);
  } finally {
    await server.close();
  }
});

test('HTTP/1.1 over http2.createSecureServer({ allowHTTP1: true }): the renegotiated certificate is the one reported', async () => {
  const lines: string[] = [];
  const routeRuns: string[] = [];
  const server = http2.createSecureServer(http2MtlsServerOptions(pki), app(lines, routeRuns) as never);
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => sockets.add(socket));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as AddressInfo;
    const { out, status } = await renegotiate(port, 'alice', 'admin', 'before');
    assert.equal(status, 0, out);
    const seen = responses(out);
    assert.deepEqual(JSON.parse(seen['/before']!.body), { verify: 'SUCCESS', subject: ALICE });
    assert.equal(seen['/after']!.status, 403);
    assert.deepEqual(JSON.parse(seen['/after']!.body), REJECTED_ADMIN);
    await settle();
    assert.deepEqual(lines, [
      `GET /before 200 SUCCESS "${ALICE}"`,
      'GET /after 403 FAILED:DEPTH_ZERO_SELF_SIGNED_CERT "CN=admin"',
    ]);
    assert.deepEqual(routeRuns, ['/before']);
  } finally {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  }
});

test('without observeTlsServer: a request read while a renegotiation is held before its ChangeCipherSpec is not verified', async () => {
  // Node already reports CN=admin with alice's verdict here; it has no current cipher until the
  // client's ChangeCipherSpec, which is how the source knows the handshake is under way.
  const server = await httpsApp();
  try {
    const { out, status } = await renegotiate(server.port, 'alice', 'admin', 'held');
    assert.equal(status, 0, out);
    const answered = responses(out);
    assert.deepEqual(answered['/held'], {
      status: 403,
      body: JSON.stringify({
        code: 'ERR_MTLS_CLIENT_CERT_INVALID',
        message: 'The client certificate was not accepted (RENEGOTIATION_IN_PROGRESS).',
        verify: 'FAILED:RENEGOTIATION_IN_PROGRESS',
      }),
    });
    assert.deepEqual(answered['/after'], { status: 403, body: JSON.stringify(REJECTED_ADMIN) });
    await settle();
    assert.deepEqual(server.lines, [
      'GET /held 403 FAILED:RENEGOTIATION_IN_PROGRESS "-"',
      'GET /after 403 FAILED:DEPTH_ZERO_SELF_SIGNED_CERT "CN=admin"',
    ]);
    assert.deepEqual(server.routeRuns, []);
  } finally {
    await server.close();
  }
});

test('without observeTlsServer: a request read while only the Finished is held gets the new certificate with its own verdict', async () => {
  // After the ChangeCipherSpec the certificate and the proof of its key are in, but Node's
  // authorizationError still holds the first handshake's verdict: OpenSSL's own verify result
  // for the new certificate decides.
  const server = await httpsApp();
  try {
    const { out, status } = await renegotiate(server.port, 'alice', 'admin', 'held-finished');
    assert.equal(status, 0, out);
    const answered = responses(out);
    assert.deepEqual(answered['/held'], { status: 403, body: JSON.stringify(REJECTED_ADMIN) });
    assert.deepEqual(answered['/after'], { status: 403, body: JSON.stringify(REJECTED_ADMIN) });
    await settle();
    assert.deepEqual(server.lines, [
      'GET /held 403 FAILED:DEPTH_ZERO_SELF_SIGNED_CERT "CN=admin"',
      'GET /after 403 FAILED:DEPTH_ZERO_SELF_SIGNED_CERT "CN=admin"',
    ]);
    assert.deepEqual(server.routeRuns, []);
  } finally {
    await server.close();
  }
});

test('observeTlsServer refuses renegotiation by default: the connection is closed and the attempt counted', async () => {
  const server = await httpsApp('metrics');
  try {
    const { out, status } = await renegotiate(server.port, 'alice', 'admin', 'before');
    assert.equal(status, 2, out);
    assert.match(out, /\nRENEGOTIATION FAILED /);
    assert.deepEqual(JSON.parse(responses(out)['/before']!.body), { verify: 'SUCCESS', subject: ALICE });
    assert.equal(responses(out)['/after'], undefined);
    await settle();
    assert.deepEqual(server.lines, [`GET /before 200 SUCCESS "${ALICE}"`]);
    assert.deepEqual(server.routeRuns, ['/before']);
    assert.deepEqual(await server.meter!.points(METRIC_MTLS_SERVER_RENEGOTIATIONS), [
      { attributes: { 'mtls.renegotiation.outcome': 'refused', 'error.type': 'ERR_TLS_RENEGOTIATION_DISABLED' }, value: 1 },
    ]);
  } finally {
    await server.close();
  }
});

test('observeTlsServer refusing: a request in flight is still logged with its own identity', async () => {
  const server = await httpsApp('metrics');
  try {
    const { out, status } = await renegotiate(server.port, 'alice', 'admin', 'inflight');
    assert.equal(status, 2, out);
    assert.equal(responses(out)['/inflight'], undefined);
    await settle();
    // The connection closed before the answer: morgan logs the aborted request with its identity.
    assert.deepEqual(server.lines, [`GET /inflight - SUCCESS "${ALICE}"`]);
  } finally {
    await server.close();
  }
});

test('observeTlsServer refusing: a renegotiation held before its Finished is closed at its ClientHello, so a request read meanwhile never sees CN=admin', async () => {
  // Refused at its ClientHello, the renegotiation never gets as far as a certificate.
  const server = await httpsApp('metrics');
  try {
    const { out, status } = await renegotiate(server.port, 'alice', 'admin', 'held');
    assert.equal(status, 2, out);
    assert.match(out, /^HANDSHAKE TLSv1\.2 \/O=mtls-observability demo\/CN=alice\nRENEGOTIATION FAILED/);
    await new Promise((resolve) => setTimeout(resolve, 400));
    // morgan logged the aborted request when the connection closed, before its identity was read.
    assert.deepEqual(server.lines, ['GET /held - - "-"']);
    assert.deepEqual(server.resolved, [{ verified: false, verify: 'NONE', reason: 'CONNECTION_CLOSED', source: 'tls' }]);
    assert.deepEqual(server.routeRuns, []);
    assert.deepEqual(await server.meter!.points(METRIC_MTLS_SERVER_RENEGOTIATIONS), [
      { attributes: { 'mtls.renegotiation.outcome': 'refused', 'error.type': 'ERR_TLS_RENEGOTIATION_DISABLED' }, value: 1 },
    ]);
  } finally {
    await server.close();
  }
});

test('observeTlsServer({ allowRenegotiation: true }): the renegotiation completes, is counted, and the new certificate is reported', async () => {
  const server = await httpsApp({ allowRenegotiation: true });
  try {
    const { out, status } = await renegotiate(server.port, 'alice', 'admin', 'first');
    assert.equal(status, 0, out);
    assert.deepEqual(JSON.parse(responses(out)['/after']!.body), REJECTED_ADMIN);
    await settle();
    assert.deepEqual(server.lines, ['GET /after 403 FAILED:DEPTH_ZERO_SELF_SIGNED_CERT "CN=admin"']);
    assert.deepEqual(await server.meter!.points(METRIC_MTLS_SERVER_RENEGOTIATIONS), [
      { attributes: { 'mtls.renegotiation.outcome': 'completed' }, value: 1 },
    ]);
  } finally {
    await server.close();
  }
});
