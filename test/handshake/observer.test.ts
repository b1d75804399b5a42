import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';
import http2 from 'node:http2';
import { observeTlsServer, type TlsServerObserver } from '../../lib/handshake/observer.js';
import type { TlsHandshakeFailure } from '../../lib/handshake/log-line.js';
import { mtlsIdentity } from '../../lib/middleware.js';
import { getTestPki } from '../helpers/pki.js';
import { startHttpsServer, httpsRequest, type StartedHttpsServer, type StartHttpsServerOptions } from '../helpers/https.js';
import { createTestMeter, type TestMeter } from '../helpers/metric-reader.js';
import { captureWarnings } from '../helpers/warnings.js';
import type { DevCertificate, DevCertificateSet } from '../../lib/dev-certs/index.js';

const HANDSHAKES = 'mtls.server.handshakes';

let pki: DevCertificateSet;
before(async () => {
  pki = await getTestPki();
});

interface Harness {
  readonly server: StartedHttpsServer;
  readonly meter: TestMeter;
  readonly lines: string[];
  readonly failures: TlsHandshakeFailure[];
  readonly observer: TlsServerObserver;
  readonly requests: string[];
  close(): Promise<void>;
}

async function harness(
  serverOptions: StartHttpsServerOptions & { logFormat?: 'text' | 'json'; handler?: Parameters<typeof startHttpsServer>[0] } = {},
): Promise<Harness> {
  const meter = createTestMeter();
  const lines: string[] = [];
  const failures: TlsHandshakeFailure[] = [];
  const requests: string[] = [];
  const server = await startHttpsServer(
    serverOptions.handler ??
      ((req, res) => {
        requests.push(req.url ?? '');
        res.end('ok');
      }),
    { rejectUnauthorized: true, ...serverOptions },
  );
  const observer = observeTlsServer(server.server, {
    log: (line) => lines.push(line),
    logFormat: serverOptions.logFormat ?? 'text',
    onHandshakeFailure: (f) => failures.push(f),
    metrics: { meterProvider: meter.provider },
  });
  return {
    server,
    meter,
    lines,
    failures,
    observer,
    requests,
    async close() {
      observer.detach();
      await server.close();
      await meter.shutdown();
    },
  };
}

/** Resolves when `predicate` holds; fails after 3 s. */
async function until(predicate: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 3000;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A request that may fail; resolves with the status or the client error code. */
async function attempt(port: number, client?: DevCertificate, maxVersion?: tls.SecureVersion): Promise<string> {
  try {
    const res = await httpsRequest({ port, ...(client ? { client } : {}), ...(maxVersion ? { maxVersion } : {}) });
    return String(res.status);
  } catch (error) {
    return (error as { code?: string }).code ?? 'error';
  }
}

const TEXT_LINE =
  /^127\.0\.0\.1 - - \[\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000\] "TLS handshake failed" outcome=(\S+) reason=(\S+) verify=(\S+) tls_version=(\S+) remote_port=(\d+) error_code=(\S+)$/;

describe('observeTlsServer with rejectUnauthorized: true', () => {
  test('an expired certificate: one text line with CERT_HAS_EXPIRED and one rejected handshake (TLS 1.3 and 1.2)', async () => {
    const h = await harness();
    try {
      assert.equal(await attempt(h.server.port, pki.clients.expired), 'ECONNRESET');
      await until(() => h.lines.length === 1, 'the failure line');
      assert.equal(await attempt(h.server.port, pki.clients.expired, 'TLSv1.2'), 'ECONNRESET');
      await until(() => h.lines.length === 2, 'the second failure line');
      for (const line of h.lines) {
        const m = TEXT_LINE.exec(line);
        assert.ok(m, line);
        assert.deepEqual(m.slice(1, 5), ['rejected', 'CERT_HAS_EXPIRED', 'FAILED:CERT_HAS_EXPIRED', '-']);
        assert.equal(m[6], 'ECONNRESET');
      }
      assert.equal(h.failures[0]!.remoteAddress, '127.0.0.1');
      assert.ok(h.failures[0]!.remotePort! > 0);
      assert.deepEqual(await h.meter.points(HANDSHAKES), [
        { attributes: { 'mtls.handshake.outcome': 'rejected', 'error.type': 'CERT_HAS_EXPIRED' }, value: 2 },
      ]);
      assert.deepEqual(h.requests, []);
    } finally {
      await h.close();
    }
  });

  test('each certificate failure by its reason; a missing certificate as CERT_MISSING with its TLS version', async () => {
    const h = await harness({ logFormat: 'json' });
    try {
      const cases: [DevCertificate | undefined, string][] = [
        [pki.clients.untrusted, 'UNABLE_TO_VERIFY_LEAF_SIGNATURE'],
        [pki.clients.selfSigned, 'DEPTH_ZERO_SELF_SIGNED_CERT'],
        [pki.clients.notYetValid, 'CERT_NOT_YET_VALID'],
        [pki.clients.wrongEku, 'INVALID_PURPOSE'],
        [undefined, 'CERT_MISSING'],
      ];
      for (const [client] of cases) await attempt(h.server.port, client);
      await until(() => h.lines.length === cases.length, 'five failure lines');
      const records = h.lines.map((line) => JSON.parse(line) as Record<string, unknown>);
      assert.deepEqual(
        records.map((r) => [r.outcome, r.reason, r.peer_cert_verify]),
        cases.map(([, reason]) => ['rejected', reason, reason === 'CERT_MISSING' ? 'NONE' : `FAILED:${reason}`]),
      );
      const missing = records[4]!;
      assert.equal(missing.tls_version, 'TLSv1.3');
      assert.equal(missing.error_code, 'ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE');
      assert.equal(missing.event, 'tls_handshake_failed');
      assert.equal(missing.remote_addr, '127.0.0.1');
      assert.equal(typeof missing.remote_port, 'number');
      assert.match(String(missing.time), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      assert.equal(await h.meter.value(HANDSHAKES, { 'mtls.handshake.outcome': 'rejected', 'error.type': 'CERT_MISSING', 'tls.protocol.version': '1.3' }), 1);
      for (const [, reason] of cases.slice(0, 4)) {
        assert.equal(await h.meter.value(HANDSHAKES, { 'mtls.handshake.outcome': 'rejected', 'error.type': reason }), 1, reason);
      }
    } finally {
      await h.close();
    }
  });

  test('a verified client: counted as a successful handshake with its version, no line', async () => {
    const h = await harness();
    try {
      assert.equal(await attempt(h.server.port, pki.clients.valid), '200');
      assert.equal(await attempt(h.server.port, pki.clients.valid, 'TLSv1.2'), '200');
      assert.deepEqual(h.lines, []);
      const points = await h.meter.points(HANDSHAKES);
      assert.deepEqual(
        points.sort((a, b) => String(a.attributes['tls.protocol.version']).localeCompare(String(b.attributes['tls.protocol.version']))),
        [
          { attributes: { 'mtls.handshake.outcome': 'success', 'tls.protocol.version': '1.2', 'tls.resumed': false }, value: 1 },
          { attributes: { 'mtls.handshake.outcome': 'success', 'tls.protocol.version': '1.3', 'tls.resumed': false }, value: 1 },
        ],
      );
    } finally {
      await h.close();
    }
  });

  test('a resumed TLS 1.2 session is counted with tls.resumed = true', async () => {
    const h = await harness({ maxVersion: 'TLSv1.2' });
    const agent = new https.Agent({ keepAlive: false, maxCachedSessions: 10, cert: pki.clients.valid.chainPem, key: pki.clients.valid.keyPem });
    try {
      assert.equal((await httpsRequest({ port: h.server.port, agent })).status, 200);
      assert.equal((await httpsRequest({ port: h.server.port, agent })).status, 200);
      assert.equal(await h.meter.value(HANDSHAKES, { 'mtls.handshake.outcome': 'success', 'tls.protocol.version': '1.2', 'tls.resumed': true }), 1);
      assert.equal(await h.meter.value(HANDSHAKES, { 'mtls.handshake.outcome': 'success', 'tls.protocol.version': '1.2', 'tls.resumed': false }), 1);
    } finally {
      agent.destroy();
      await h.close();
    }
  });

  test('noise is kept apart from certificate failures: plain HTTP, connect-and-close, version mismatch, timeout', async () => {
    const h = await harness({ minVersion: 'TLSv1.3', serverOptions: { handshakeTimeout: 300 } });
    try {
      // Plain HTTP on the TLS port.
      await new Promise<void>((resolve) => {
        const req = http.get({ host: '127.0.0.1', port: h.server.port, path: '/' }, (res) => {
          res.resume();
          res.on('end', resolve);
        });
        req.on('error', () => resolve());
      });
      await until(() => h.failures.length === 1, 'plain HTTP');
      // A TCP health check: connect, then close.
      await new Promise<void>((resolve) => {
        const s = net.connect(h.server.port, '127.0.0.1', () => s.end());
        s.on('error', () => {});
        s.on('close', () => resolve());
      });
      await until(() => h.failures.length === 2, 'connect-and-close');
      // A TLS 1.2-only client against a TLS 1.3-only server.
      assert.equal(await attempt(h.server.port, pki.clients.valid, 'TLSv1.2'), 'EPROTO');
      await until(() => h.failures.length === 3, 'version mismatch');
      // A client that connects and sends nothing until the server's handshakeTimeout.
      const idle = net.connect(h.server.port, '127.0.0.1');
      idle.on('error', () => {});
      await until(() => h.failures.length === 4, 'handshake timeout');
      idle.destroy();
      assert.deepEqual(
        h.failures.map((f) => [f.outcome, f.reason, f.errorCode]),
        [
          ['failed', 'plain_http', 'ERR_SSL_HTTP_REQUEST'],
          ['failed', 'connection_closed', 'ECONNRESET'],
          ['failed', 'protocol_mismatch', 'ERR_SSL_UNSUPPORTED_PROTOCOL'],
          ['failed', 'timeout', 'ERR_TLS_HANDSHAKE_TIMEOUT'],
        ],
      );
      assert.equal(h.lines.length, 4);
      assert.match(h.lines[0]!, / outcome=failed reason=plain_http verify=- tls_version=- remote_port=\d+ error_code=ERR_SSL_HTTP_REQUEST$/);
      const points = await h.meter.points(HANDSHAKES);
      assert.deepEqual(
        points.map((p) => [p.attributes['mtls.handshake.outcome'], p.attributes['error.type'], p.value]).sort(),
        [
          ['failed', 'connection_closed', 1],
          ['failed', 'plain_http', 1],
          ['failed', 'protocol_mismatch', 1],
          ['failed', 'timeout', 1],
        ],
      );
    } finally {
      await h.close();
    }
  });
});

describe('observeTlsServer with rejectUnauthorized: false', () => {
  test('a failing certificate reaches the middleware: one successful handshake, one failed request, no handshake line', async () => {
    const meter = createTestMeter();
    const lines: string[] = [];
    const mw = mtlsIdentity({ metrics: { meterProvider: meter.provider }, tracing: false });
    const server = await startHttpsServer(
      (req, res) => mw(req, res, () => res.end('ok')),
      { rejectUnauthorized: false },
    );
    const observer = observeTlsServer(server.server, { log: (l) => lines.push(l), metrics: { meterProvider: meter.provider } });
    try {
      assert.equal(await attempt(server.port, pki.clients.expired), '200');
      assert.deepEqual(lines, []);
      assert.deepEqual(await meter.points(HANDSHAKES), [
        { attributes: { 'mtls.handshake.outcome': 'success', 'tls.protocol.version': '1.3', 'tls.resumed': false }, value: 1 },
      ]);
      assert.deepEqual(await meter.points('mtls.server.requests'), [
        { attributes: { 'mtls.verify.result': 'failed', 'error.type': 'CERT_HAS_EXPIRED', 'mtls.client.source': 'tls', 'mtls.verify.required': false }, value: 1 },
      ]);
    } finally {
      observer.detach();
      await server.close();
      await meter.shutdown();
    }
  });

  test('an application that destroys unverified sockets in a prepended secureConnection listener: reported as rejected', async () => {
    const h = await harness({ rejectUnauthorized: false });
    h.server.server.prependListener('secureConnection', (socket: tls.TLSSocket) => {
      if (!socket.authorized) socket.destroy();
    });
    try {
      await attempt(h.server.port, pki.clients.selfSigned);
      await until(() => h.lines.length === 1, 'the failure line');
      const m = TEXT_LINE.exec(h.lines[0]!);
      assert.ok(m, h.lines[0]);
      assert.deepEqual(m.slice(1, 5), ['rejected', 'DEPTH_ZERO_SELF_SIGNED_CERT', 'FAILED:DEPTH_ZERO_SELF_SIGNED_CERT', '-']);
      assert.equal(m[6], '-');
      assert.deepEqual(h.requests, []);
    } finally {
      await h.close();
    }
  });
});

describe('observeTlsServer lifecycle and options', () => {
  test('tls.Server works too; a stream destination gets newline-terminated lines', async () => {
    const chunks: string[] = [];
    const server = tls.createServer({
      cert: pki.server.chainPem,
      key: pki.server.keyPem,
      ca: pki.ca.certPem,
      requestCert: true,
      rejectUnauthorized: true,
    });
    server.on('secureConnection', (s) => s.end('hi'));
    const observer = observeTlsServer(server, { log: { write: (c: string) => chunks.push(c) }, metrics: false });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    try {
      await new Promise<void>((resolve) => {
        const s = tls.connect({ host: '127.0.0.1', port, ca: pki.ca.certPem, servername: 'localhost', cert: pki.clients.untrusted.chainPem, key: pki.clients.untrusted.keyPem });
        s.on('error', () => {});
        s.on('close', () => resolve());
        s.resume();
      });
      await until(() => chunks.length === 1, 'the failure line');
      assert.match(chunks[0]!, / reason=UNABLE_TO_VERIFY_LEAF_SIGNATURE /);
      assert.ok(chunks[0]!.endsWith('\n'));
      assert.equal(chunks[0]!.indexOf('\n'), chunks[0]!.length - 1);
    } finally {
      observer.detach();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  test('an HTTP/2 secure server: rejected handshakes and successes are observed the same way', async () => {
    const meter = createTestMeter();
    const lines: string[] = [];
    const server = http2.createSecureServer(
      { cert: pki.server.chainPem, key: pki.server.keyPem, ca: pki.ca.certPem, requestCert: true, rejectUnauthorized: true, allowHTTP1: true },
      (_req, res) => res.end('ok'),
    );
    const observer = observeTlsServer(server, { log: (l) => lines.push(l), metrics: { meterProvider: meter.provider } });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    try {
      assert.equal(await attempt(port, pki.clients.valid), '200');
      assert.equal(await attempt(port, pki.clients.expired), 'ECONNRESET');
      await until(() => lines.length === 1, 'the failure line');
      assert.match(lines[0]!, / outcome=rejected reason=CERT_HAS_EXPIRED /);
      assert.equal(await meter.value(HANDSHAKES, { 'mtls.handshake.outcome': 'success', 'tls.protocol.version': '1.3', 'tls.resumed': false }), 1);
    } finally {
      observer.detach();
      await new Promise<void>((r) => server.close(() => r()));
      await meter.shutdown();
    }
  });

  test('detach removes every listener and allows observing again; observing twice throws', () => {
    const server = https.createServer({});
    const before = ['connection', 'tlsClientError', 'secureConnection'].map((e) => server.listenerCount(e));
    const observer = observeTlsServer(server);
    assert.throws(() => observeTlsServer(server), { name: 'TypeError', message: /already observed; call detach\(\)/ });
    observer.detach();
    observer.detach();
    assert.deepEqual(['connection', 'tlsClientError', 'secureConnection'].map((e) => server.listenerCount(e)), before);
    observeTlsServer(server).detach();
  });

  test('bad arguments are TypeErrors that name the fix', () => {
    assert.throws(() => observeTlsServer(http.createServer() as never), {
      name: 'TypeError',
      message: /server must be an https\.Server, tls\.Server or HTTP\/2 secure server .*got a Server/,
    });
    const server = https.createServer({});
    assert.throws(() => observeTlsServer(server, { logFormat: 'xml' as never }), {
      message: 'observeTlsServer(): option "logFormat" must be one of "text", "json", got "xml".',
    });
    assert.throws(() => observeTlsServer(server, { log: 'stdout' as never }), { message: /option "log" must be a writable stream/ });
    assert.throws(() => observeTlsServer(server, { colour: true } as never), { message: /unknown option "colour"/ });
    assert.throws(() => observeTlsServer(server, { allowRenegotiation: 'no' as never }), {
      message: /^observeTlsServer\(\): option "allowRenegotiation" must be a boolean/,
    });
  });

  test('a throwing log destination or callback never breaks the server', async () => {
    const server = await startHttpsServer((_req, res) => res.end('ok'), { rejectUnauthorized: true });
    const warnings = await captureWarnings(async (seen) => {
      const observer = observeTlsServer(server.server, {
        log: () => {
          throw new Error('disk full');
        },
        onHandshakeFailure: () => {
          throw new Error('callback broke');
        },
        metrics: false,
      });
      try {
        assert.equal(await attempt(server.port, pki.clients.expired), 'ECONNRESET');
        assert.equal(await attempt(server.port, pki.clients.valid), '200');
        await until(() => seen.length === 1, 'the warning');
      } finally {
        observer.detach();
        await server.close();
      }
    });
    assert.deepEqual(
      warnings.map((w) => [w.code, w.message]),
      [['MTLS_OBSERVER_ERROR', 'observeTlsServer(): a log destination or onHandshakeFailure threw and was skipped: disk full']],
    );
  });
});

describe('observeTlsServer and TLS 1.2 renegotiation (Node client; the certificate-changing attack is test/e2e/renegotiation.test.ts)', () => {
  const RENEGOTIATIONS = 'mtls.server.renegotiations';

  /** A bare tls.Server (nothing but the observer closes a socket there) and one TLS 1.2 client that renegotiates. */
  async function renegotiateOnce(options: { allowRenegotiation?: boolean; maxVersion?: tls.SecureVersion }) {
    const meter = createTestMeter();
    const lines: string[] = [];
    const failures: TlsHandshakeFailure[] = [];
    const server = tls.createServer(
      { key: pki.server.keyPem, cert: pki.server.chainPem, ca: pki.ca.certPem, requestCert: true, rejectUnauthorized: false },
      (socket) => socket.on('data', (data: Buffer) => socket.write(data)),
    );
    const serverSocket = new Promise<tls.TLSSocket>((resolve) => server.once('secureConnection', resolve));
    const observer = observeTlsServer(server, {
      metrics: { meterProvider: meter.provider },
      log: (line) => lines.push(line),
      onHandshakeFailure: (failure) => failures.push(failure),
      ...(options.allowRenegotiation !== undefined ? { allowRenegotiation: options.allowRenegotiation } : {}),
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const client = tls.connect({
      host: '127.0.0.1',
      port: (server.address() as net.AddressInfo).port,
      ca: pki.ca.certPem,
      servername: 'localhost',
      cert: pki.clients.valid.chainPem,
      key: pki.clients.valid.keyPem,
      maxVersion: options.maxVersion ?? 'TLSv1.2',
    });
    client.on('error', () => {});
    try {
      await new Promise<void>((resolve) => client.once('secureConnect', () => resolve()));
      const clientPort = client.localPort;
      // A TLS 1.3 client is connected before the server has finished its side.
      await serverSocket;
      const outcome = await new Promise<string>((resolve) => {
        client.once('close', () => resolve('closed'));
        const started = client.renegotiate({}, (error) => {
          if (error) resolve(`error ${(error as NodeJS.ErrnoException).code}`);
          // Data still flows on a connection that renegotiated.
          else client.write('ping', () => client.once('data', (data) => resolve(`renegotiated, echo ${String(data)}`)));
        });
        if (!started) resolve('not started');
      });
      return { outcome, points: await meter.points(RENEGOTIATIONS), handshakes: await meter.points(HANDSHAKES), serverSocket: await serverSocket, lines, failures, clientPort };
    } finally {
      client.destroy();
      observer.detach();
      await new Promise((resolve) => server.close(resolve));
      await meter.shutdown();
    }
  }

  test('refused by default: the connection is closed when the client starts it, counted and logged', async () => {
    const { outcome, points, handshakes, serverSocket, lines, failures, clientPort } = await renegotiateOnce({});
    assert.equal(outcome, 'closed');
    assert.equal(serverSocket.destroyed, true);
    assert.deepEqual(points, [
      { attributes: { 'mtls.renegotiation.outcome': 'refused', 'error.type': 'ERR_TLS_RENEGOTIATION_DISABLED' }, value: 1 },
    ]);
    // The first handshake stays counted as the success it was.
    assert.deepEqual(handshakes, [
      { attributes: { 'mtls.handshake.outcome': 'success', 'tls.protocol.version': '1.2', 'tls.resumed': false }, value: 1 },
    ]);
    assert.equal(failures.length, 1);
    const { time, ...failure } = failures[0]!;
    assert.ok(time instanceof Date);
    assert.deepEqual(failure, {
      outcome: 'rejected',
      reason: 'ERR_TLS_RENEGOTIATION_DISABLED',
      remoteAddress: '127.0.0.1',
      remotePort: clientPort,
      tlsVersion: 'TLSv1.2',
    });
    assert.equal(lines.length, 1);
    assert.equal(
      lines[0]!.replace(/\[[^\]]+\]/, '[TIME]'),
      `127.0.0.1 - - [TIME] "TLS handshake failed" outcome=rejected reason=ERR_TLS_RENEGOTIATION_DISABLED` +
        ` verify=FAILED:ERR_TLS_RENEGOTIATION_DISABLED tls_version=TLSv1.2 remote_port=${clientPort} error_code=-`,
    );
  });

  test('allowRenegotiation: true lets it complete and counts it', async () => {
    const { outcome, points, lines, failures } = await renegotiateOnce({ allowRenegotiation: true });
    assert.equal(outcome, 'renegotiated, echo ping');
    assert.deepEqual(points, [{ attributes: { 'mtls.renegotiation.outcome': 'completed' }, value: 1 }]);
    assert.deepEqual([lines, failures], [[], []]);
  });

  test('TLS 1.3 connections are left alone (the protocol has no renegotiation)', async () => {
    const { outcome, points, serverSocket } = await renegotiateOnce({ maxVersion: 'TLSv1.3' });
    assert.equal(outcome, 'not started');
    assert.deepEqual(points, []);
    assert.equal(serverSocket.listenerCount('error'), 1);
  });
});
