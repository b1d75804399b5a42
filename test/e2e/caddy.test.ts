/**
 * A real Caddy terminates mutual TLS on loopback in front of the Express app and forwards the
 * client certificate (`{http.request.tls.client.certificate_der_base64}`). Caddy (Go's TLS stack)
 * aborts the handshake for certificates that fail verification, so only verified ones arrive.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { DevCertificateSet } from '../../lib/dev-certs/index.js';
import { getTestPki } from '../helpers/pki.js';
import { freePort, startProxy, type RunningProxy } from './proxy-configs/proxy-process.js';
import { assertKeepAliveAndForwardedFor, startProxiedApp, withoutSource, type ProxiedApp } from './proxy-configs/proxied-app.js';

let pki: DevCertificateSet;
let app: ProxiedApp;
let caddy: RunningProxy;

before(async () => {
  pki = await getTestPki();
  app = await startProxiedApp(pki, 'caddy');
  caddy = await startProxy({
    name: 'mtls-caddy',
    config: 'Caddyfile',
    files: {
      'server-cert.pem': pki.server.chainPem,
      'server-key.pem': pki.server.keyPem,
      'client-ca.pem': pki.ca.certPem,
    },
    values: { APP_PORT: app.upstreamPort, HTTP_PORT: await freePort() },
    command: (_dir, conf) => ['caddy', 'run', '--adapter', 'caddyfile', '--config', conf],
    // Caddy keeps state under $HOME / XDG paths: keep it in the temp dir.
    env: (dir) => ({ HOME: dir, XDG_DATA_HOME: `${dir}/data`, XDG_CONFIG_HOME: `${dir}/config` }),
  });
});

after(async () => {
  await caddy?.stop();
  await app?.close();
});

test('a verified client: the identity through Caddy equals the direct TLS identity', async () => {
  for (const client of [pki.clients.valid, pki.clients.hostile]) {
    const viaTls = await app.send(app.directPort, client);
    const viaCaddy = await app.send(caddy.port, client);
    assert.equal(viaCaddy.status, 200, viaCaddy.body);
    assert.equal(viaCaddy.identity?.source, 'caddy');
    assert.equal(viaCaddy.identity?.verify, 'SUCCESS');
    assert.deepEqual(withoutSource(viaCaddy.identity), withoutSource(viaTls.identity));
  }
});

test('no certificate: NONE; a forged header is replaced by the empty placeholder', async () => {
  const sent = await app.send(caddy.port, undefined, '/', {
    'X-Client-Cert': Buffer.from(pki.clients.valid.der).toString('base64'),
  });
  assert.deepEqual(sent.identity, { verified: false, verify: 'NONE', reason: 'CERT_MISSING', source: 'caddy' });
});

test('a certificate that fails verification never reaches the app', async () => {
  await assert.rejects(app.send(caddy.port, pki.clients.untrusted));
  await assert.rejects(app.send(caddy.port, pki.clients.expired));
});

test('Caddy keeps one HTTP/1.1 connection to the app open and sends X-Forwarded-For (the docs/proxies.md config)', async () => {
  await assertKeepAliveAndForwardedFor(app, pki, caddy.port);
});
