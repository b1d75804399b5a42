/**
 * The README's pino-http recipe behind a real nginx (test/e2e/proxy-configs/nginx.conf, the
 * `nginx` proxy format): pino-http runs before `mtlsIdentity()`, and the line it writes has one
 * set of identity fields, the middleware's verdict from nginx's headers, with those headers redacted.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { DevCertificateSet } from '../../lib/dev-certs/index.js';
import { parseCertificate } from '../../lib/certificate/parse.js';
import { getTestPki } from '../helpers/pki.js';
import { normalizePinoLine, startPinoApp, type PinoApp } from '../helpers/pino-app.js';
import { startNginx, type RunningProxy } from './proxy-configs/proxy-process.js';

let pki: DevCertificateSet;
let app: PinoApp;
let nginx: RunningProxy;

before(async () => {
  pki = await getTestPki();
  app = await startPinoApp(pki, { format: 'nginx', trustedProxies: ['127.0.0.1/32'] });
  nginx = await startNginx('mtls-nginx-pino', pki, app.upstreamPort);
});

after(async () => {
  await nginx?.stop();
  await app?.close();
});

/** pino-http's request and response part of a line from the test app, for a request through nginx. */
function requestPart(id: number, certHeader = true): string {
  return (
    `{"level":30,"time":0,"pid":0,"hostname":"host","req":{"id":${id},"method":"GET","url":"/","query":{},"params":{},` +
    // nginx's $host has no port; an empty $ssl_client_escaped_cert sends no header; the upstream
    // connection is kept alive (Connection cleared) and the client's address forwarded.
    `"headers":{${certHeader ? '"x-ssl-client-cert":"[Redacted]",' : ''}"x-ssl-client-verify":"[Redacted]","host":"localhost","x-forwarded-for":"127.0.0.2"},` +
    '"remoteAddress":"127.0.0.1","remotePort":0},' +
    '"res":{"statusCode":200,"headers":{"x-powered-by":"Express","content-type":"text/plain; charset=utf-8","content-length":"2",' +
    '"etag":"W/\\"2-eoX0dku9ba8cNUXvu/DyeabcC+s\\""}},"responseTime":0'
  );
}

test('pino-http behind nginx: one line, the middleware\'s nginx verdict once, the forwarded headers redacted', async () => {
  const alice = parseCertificate(pki.clients.valid.der);
  const line = await app.send(nginx.port, pki.clients.valid);
  assert.equal(
    normalizePinoLine(line),
    `${requestPart(1)},"peer_cert_verify":"SUCCESS","peer_cert_source":"nginx",` +
      '"peer_cert_subject":"CN=alice,O=mtls-observability demo","peer_cert_issuer":"CN=mtls-observability development CA",' +
      `"peer_cert_serial":"${alice.serialNumber}","peer_cert_fingerprint":"${alice.fingerprint256}",` +
      `"peer_cert_not_after":"${alice.notAfter.toISOString()}","peer_cert_spiffe":"spiffe://example.org/ns/demo/sa/alice",` +
      '"msg":"request completed"}',
  );
  assert.equal(line.split('"peer_cert_verify"').length, 2);
  assert.equal(line.includes('BEGIN'), false);
  // Shown in the test output: the line as pino wrote it.
  process.stdout.write(`# pino-http behind nginx: ${line}\n`);
});

test('pino-http behind nginx: an expired certificate nginx let through is FAILED with nginx\'s reason', async () => {
  const expired = parseCertificate(pki.clients.expired.der);
  const line = await app.send(nginx.port, pki.clients.expired);
  assert.equal(
    normalizePinoLine(line),
    `${requestPart(2)},"peer_cert_verify":"FAILED:CERT_HAS_EXPIRED","peer_cert_reason":"CERT_HAS_EXPIRED","peer_cert_source":"nginx",` +
      `"peer_cert_subject":"${expired.subject}","peer_cert_issuer":"CN=mtls-observability development CA",` +
      `"peer_cert_serial":"${expired.serialNumber}","peer_cert_fingerprint":"${expired.fingerprint256}",` +
      `"peer_cert_not_after":"${expired.notAfter.toISOString()}",` +
      '"msg":"request completed"}',
  );
});

test('pino-http behind nginx: a client without a certificate is NONE from nginx, not the proxy\'s own TLS', async () => {
  const line = await app.send(nginx.port, undefined);
  assert.equal(
    normalizePinoLine(line),
    `${requestPart(3, false)},"peer_cert_verify":"NONE","peer_cert_reason":"CERT_MISSING","peer_cert_source":"nginx","msg":"request completed"}`,
  );
});
