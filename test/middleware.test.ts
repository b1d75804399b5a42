import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import express from 'express';
import morgan from 'morgan';
import { mtlsIdentity, DEFAULT_LOCALS_KEY } from '../lib/middleware.js';
import { CertificateCache, defaultCertificateCache } from '../lib/certificate/cache.js';
import { startIncomingSpanHook } from '../lib/span-hook.js';
import { registerMorganTokens } from '../lib/outputs/morgan.js';
import type { DevCertificateSet } from '../lib/dev-certs/index.js';
import { getTestPki } from './helpers/pki.js';
import { httpsRequest, keepAliveAgent, startHttpsServer, type StartHttpsServerOptions } from './helpers/https.js';
import { getPeerIdentity } from '../lib/get-peer-identity.js';
import type { PeerIdentity } from '../lib/identity/peer-identity.js';

type ClientName = keyof DevCertificateSet['clients'];

let pki: DevCertificateSet;
before(async () => {
  pki = await getTestPki();
  registerMorganTokens(morgan);
});

/** verify / reason of every development client under `rejectUnauthorized: false`. */
const OUTCOMES: Record<ClientName | 'none', { verified: boolean; verify: string; reason?: string }> = {
  valid: { verified: true, verify: 'SUCCESS' },
  expired: { verified: false, verify: 'FAILED:CERT_HAS_EXPIRED', reason: 'CERT_HAS_EXPIRED' },
  notYetValid: { verified: false, verify: 'FAILED:CERT_NOT_YET_VALID', reason: 'CERT_NOT_YET_VALID' },
  untrusted: {
    verified: false,
    verify: 'FAILED:UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    reason: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  },
  selfSigned: { verified: false, verify: 'FAILED:DEPTH_ZERO_SELF_SIGNED_CERT', reason: 'DEPTH_ZERO_SELF_SIGNED_CERT' },
  wrongEku: { verified: false, verify: 'FAILED:INVALID_PURPOSE', reason: 'INVALID_PURPOSE' },
  hostile: { verified: true, verify: 'SUCCESS' },
  none: { verified: false, verify: 'NONE', reason: 'CERT_MISSING' },
};

/** A line-collecting stream for morgan. */
function logSink(): { stream: Writable; lines: string[] } {
  const lines: string[] = [];
  let pending = '';
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      pending += chunk.toString('utf8');
      const parts = pending.split('\n');
      pending = parts.pop()!;
      lines.push(...parts);
      callback();
    },
  });
  return { stream, lines };
}

/** Express 5 app: morgan, the middleware, a route that echoes what it saw. */
async function startApp(
  middlewareOptions?: Parameters<typeof mtlsIdentity>[0],
  serverOptions?: StartHttpsServerOptions,
) {
  const log = logSink();
  const reached: string[] = [];
  const app = express();
  app.use(morgan(':peer_cert_verify :status', { stream: log.stream }));
  app.use(mtlsIdentity(middlewareOptions));
  app.get('/', (req, res) => {
    const identity = res.locals[middlewareOptions?.localsKey ?? 'mtls'] as PeerIdentity;
    reached.push(identity.verify);
    res.json({
      sameAsGetter: getPeerIdentity(req) === identity,
      verified: identity.verified,
      verify: identity.verify,
      reason: identity.reason,
      source: identity.source,
      subject: identity.certificate?.subject,
    });
  });
  const server = await startHttpsServer(app, serverOptions);
  return { ...server, log, reached };
}

test('sets res.locals.mtls to the exact outcome of every client (rejectUnauthorized: false)', async () => {
  const server = await startApp();
  try {
    for (const [name, expected] of Object.entries(OUTCOMES)) {
      const client = name === 'none' ? undefined : pki.clients[name as ClientName];
      const response = await httpsRequest({ port: server.port, ...(client ? { client } : {}) });
      assert.equal(response.status, 200, name);
      const body = JSON.parse(response.body) as Record<string, unknown>;
      assert.deepEqual(
        { verified: body.verified, verify: body.verify, ...(body.reason === undefined ? {} : { reason: body.reason }) },
        expected,
        name,
      );
      assert.equal(body.source, 'tls');
      assert.equal(body.sameAsGetter, true);
      assert.equal(body.subject === undefined, name === 'none', name);
    }
    assert.equal(server.reached.length, 8);
    assert.equal(DEFAULT_LOCALS_KEY, 'mtls');
  } finally {
    await server.close();
  }
});

test('rejectUnauthorized: true: the valid client works, no other client reaches the app', async () => {
  const server = await startApp(undefined, { rejectUnauthorized: true });
  try {
    const ok = await httpsRequest({ port: server.port, client: pki.clients.valid });
    assert.equal(ok.status, 200);
    assert.deepEqual(JSON.parse(ok.body), {
      sameAsGetter: true,
      verified: true,
      verify: 'SUCCESS',
      source: 'tls',
      subject: 'CN=alice,O=mtls-observability demo',
    });
    for (const name of ['expired', 'notYetValid', 'untrusted', 'selfSigned', 'wrongEku'] as const) {
      await assert.rejects(httpsRequest({ port: server.port, client: pki.clients[name] }), name);
    }
    await assert.rejects(httpsRequest({ port: server.port }), 'no certificate');
    assert.deepEqual(server.reached, ['SUCCESS']);
    assert.deepEqual(server.log.lines, ['SUCCESS 200']);
  } finally {
    await server.close();
  }
});

test('require: NONE and FAILED get 403 with a stable code; morgan still logs them', async () => {
  const server = await startApp({ require: true });
  try {
    const none = await httpsRequest({ port: server.port });
    assert.equal(none.status, 403);
    assert.equal(none.headers['content-type'], 'application/json; charset=utf-8');
    assert.equal(none.headers['cache-control'], 'no-store');
    assert.deepEqual(JSON.parse(none.body), {
      code: 'ERR_MTLS_CLIENT_CERT_REQUIRED',
      message: 'A client certificate is required.',
      verify: 'NONE',
    });
    const expired = await httpsRequest({ port: server.port, client: pki.clients.expired });
    assert.equal(expired.status, 403);
    assert.deepEqual(JSON.parse(expired.body), {
      code: 'ERR_MTLS_CLIENT_CERT_INVALID',
      message: 'The client certificate was not accepted (CERT_HAS_EXPIRED).',
      verify: 'FAILED:CERT_HAS_EXPIRED',
    });
    const valid = await httpsRequest({ port: server.port, client: pki.clients.valid });
    assert.equal(valid.status, 200);
    assert.deepEqual(server.reached, ['SUCCESS']);
    assert.deepEqual(server.log.lines, ['NONE 403', 'FAILED:CERT_HAS_EXPIRED 403', 'SUCCESS 200']);
  } finally {
    await server.close();
  }
});

test('localsKey stores the identity under another name', async () => {
  const server = await startApp({ localsKey: 'clientCert' });
  try {
    const response = await httpsRequest({ port: server.port, client: pki.clients.valid });
    assert.equal((JSON.parse(response.body) as { verify: string }).verify, 'SUCCESS');
  } finally {
    await server.close();
  }
});

test('keep-alive through the middleware: one parse for all requests of a connection', async () => {
  const certificateCache = new CertificateCache();
  const server = await startApp({ certificates: { cache: certificateCache } });
  const agent = keepAliveAgent(pki.clients.valid);
  try {
    for (let i = 0; i < 10; i++) {
      const response = await httpsRequest({ port: server.port, agent });
      assert.equal((JSON.parse(response.body) as { verify: string }).verify, 'SUCCESS');
    }
    assert.equal(certificateCache.parseCount, 1);
    for (let i = 0; i < 3; i++) await httpsRequest({ port: server.port, client: pki.clients.valid });
    assert.equal(certificateCache.parseCount, 1);
  } finally {
    agent.destroy();
    await server.close();
  }
});

test('options are validated at factory time with a TypeError naming the option', () => {
  assert.throws(() => mtlsIdentity({ localsKey: '' }), {
    name: 'TypeError',
    message: 'mtlsIdentity(): option "localsKey" must be a non-empty string, got "".',
  });
  assert.throws(() => mtlsIdentity({ require: 'yes' } as never), {
    name: 'TypeError',
    message: 'mtlsIdentity(): option "require" must be a boolean, got "yes".',
  });
  assert.throws(() => mtlsIdentity({ certificates: { cacheSize: -1 } }), {
    name: 'TypeError',
    message: 'mtlsIdentity(): option "certificates.cacheSize" must be an integer from 0 to 1000000, got -1.',
  });
  assert.throws(() => mtlsIdentity({ certificates: { cache: {} } } as never), {
    name: 'TypeError',
    message: 'mtlsIdentity(): option "certificates.cache" must be a CertificateCache instance, got an object.',
  });
  const exclusive = (other: string): string =>
    `mtlsIdentity(): options "certificates.cache" and "certificates.${other}" exclude each other; ` +
    'set the size and the limit on the CertificateCache instead (its maxEntries and maxCertificateBytes options).';
  assert.throws(() => mtlsIdentity({ certificates: { cache: new CertificateCache(), cacheSize: 5 } } as never), {
    name: 'TypeError',
    message: exclusive('cacheSize'),
  });
  assert.throws(() => mtlsIdentity({ certificates: { maxBytes: 100 } }), {
    name: 'TypeError',
    message: 'mtlsIdentity(): option "certificates.maxBytes" must be an integer from 256 to 1048576, got 100.',
  });
  assert.throws(() => mtlsIdentity({ certificates: { cache: new CertificateCache(), maxBytes: 32768 } } as never), {
    name: 'TypeError',
    message: exclusive('maxBytes'),
  });
  assert.throws(() => mtlsIdentity({ certificates: { size: 5 } } as never), {
    name: 'TypeError',
    message: 'mtlsIdentity(): unknown option "certificates.size". Known options of "certificates": cacheSize, maxBytes, cache.',
  });
  assert.throws(() => mtlsIdentity({ certificates: new CertificateCache() }), {
    name: 'TypeError',
    message:
      'mtlsIdentity(): option "certificates" must be an object such as { cacheSize: 1000, maxBytes: 16384 } or { cache: new CertificateCache() }, got a CertificateCache instance.',
  });
  assert.throws(() => mtlsIdentity({ tracing: {} } as never), {
    name: 'TypeError',
    message: 'mtlsIdentity(): option "tracing" must be a boolean, got an object.',
  });
  const typeErrors = [
    // @ts-expect-error a cache and the bounds of another are exclusive
    () => mtlsIdentity({ certificates: { cache: new CertificateCache(), maxBytes: 32768 } }),
    // @ts-expect-error metrics: true is not a shape (false or an object)
    () => mtlsIdentity({ metrics: true }),
  ];
  for (const attempt of typeErrors) assert.throws(attempt, TypeError);
  // The list goes on with the proxy, tracing and metrics options (their own test files).
  assert.throws(() => mtlsIdentity({ requireCert: true } as never), {
    name: 'TypeError',
    message: 'mtlsIdentity(): unknown option "requireCert". Known options: localsKey, require, certificates, proxy, tracing, metrics.',
  });
  assert.throws(() => mtlsIdentity('mtls' as never), {
    name: 'TypeError',
    message: 'mtlsIdentity(): options must be an object, got "mtls".',
  });
  assert.equal(typeof mtlsIdentity(), 'function');
  assert.equal(typeof mtlsIdentity({}), 'function');
});

test('app.use(mtlsIdentity) without the call is a helpful TypeError', async () => {
  const errors: unknown[] = [];
  const app = express();
  app.use(mtlsIdentity as never);
  app.use((error: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    errors.push(error);
    res.status(500).end('factory not called');
  });
  const server = await startHttpsServer(app);
  try {
    const response = await httpsRequest({ port: server.port, client: pki.clients.valid });
    assert.equal(response.status, 500);
    assert.equal(errors.length, 1);
    assert.ok(errors[0] instanceof TypeError);
    assert.equal(
      (errors[0]).message,
      'mtlsIdentity() was called with a request object: it is a factory. Use app.use(mtlsIdentity()) instead of app.use(mtlsIdentity).',
    );
  } finally {
    await server.close();
  }
});

test('without res.locals (bare node:https) the middleware still attaches the identity', async () => {
  const middleware = mtlsIdentity({ require: true });
  const server = await startHttpsServer((req, res) => {
    middleware(req, res, () => {
      const identity = getPeerIdentity(req)!;
      res.end(`${identity.verify} ${'locals' in res}`);
    });
  });
  try {
    const ok = await httpsRequest({ port: server.port, client: pki.clients.valid });
    assert.equal(ok.body, 'SUCCESS false');
    const rejected = await httpsRequest({ port: server.port, client: pki.clients.untrusted });
    assert.equal(rejected.status, 403);
    assert.deepEqual(JSON.parse(rejected.body), {
      code: 'ERR_MTLS_CLIENT_CERT_INVALID',
      message: 'The client certificate was not accepted (UNABLE_TO_VERIFY_LEAF_SIGNATURE).',
      verify: 'FAILED:UNABLE_TO_VERIFY_LEAF_SIGNATURE',
    });
  } finally {
    await server.close();
  }
});

test('the README options table lists exactly the options mtlsIdentity() accepts', async () => {
  const { readFile } = await import('node:fs/promises');
  const readme = await readFile(new URL('../README.md', import.meta.url), 'utf8');
  const section = readme.split('## `mtlsIdentity(options?)` options')[1]!.split('\n## ')[0]!;
  const documented = [...section.matchAll(/^\| `([\w.]+)` \|/gm)].map((m) => m[1]).sort();
  // The known options, read from the errors: the top level, then each nested group's keys.
  const knownOf = (options: unknown): string[] | undefined => {
    try {
      mtlsIdentity(options as never);
    } catch (error) {
      const list = /Known options(?: of "\w+")?: (.*)\.$/.exec((error as Error).message)?.[1];
      return list?.split(', ');
    }
    return undefined;
  };
  const acceptsFalse = (key: string): boolean => {
    try {
      mtlsIdentity({ [key]: false });
      return true;
    } catch {
      return false;
    }
  };
  const known = knownOf({ '?': true })!.flatMap((key) => {
    const nested = knownOf({ [key]: { '?': true } });
    if (nested === undefined) return [key];
    // A group that can be turned off (`metrics: false`) has a row of its own too.
    return [...(acceptsFalse(key) ? [key] : []), ...nested.map((inner) => `${key}.${inner}`)];
  });
  assert.ok(known.includes('proxy.format') && known.includes('certificates.cache') && known.includes('tracing'));
  assert.deepEqual(documented, known.sort());
});

test('one certificate cache: the span hook, getPeerIdentity and the middleware without `certificates` parse a certificate once', async () => {
  const defaults = defaultCertificateCache();
  // Fresh certificates: nothing in this process has parsed them yet.
  const [first, second] = await Promise.all([
    pki.ca.issue({ subject: [{ type: 'CN', value: 'shared-cache-a' }] }),
    pki.ca.issue({ subject: [{ type: 'CN', value: 'shared-cache-b' }] }),
  ]);
  const mw = mtlsIdentity({ tracing: false, metrics: false });
  const seen: { before: PeerIdentity | undefined; after: PeerIdentity | undefined }[] = [];
  const server = await startHttpsServer((req, res) => {
    // getPeerIdentity before the middleware (as pino-http's customProps does), or the span hook.
    if (req.url === '/hook') startIncomingSpanHook(req);
    const before = req.url === '/hook' ? undefined : getPeerIdentity(req);
    mw(req, res, () => {
      const after = getPeerIdentity(req);
      seen.push({ before, after });
      res.end(after?.certificate?.subject ?? '-');
    });
  });
  try {
    const start = defaults.parseCount;
    const a = await httpsRequest({ port: server.port, client: first });
    assert.equal(a.body, 'CN=shared-cache-a');
    assert.equal(defaults.parseCount - start, 1);
    // The middleware served the identity read before it, not one of its own (another cache would
    // have parsed the certificate again and built another object).
    assert.equal(seen[0]?.after, seen[0]?.before);
    assert.equal(seen[0]?.after?.certificate?.subject, 'CN=shared-cache-a');
    const b = await httpsRequest({ port: server.port, path: '/hook', client: second });
    assert.equal(b.body, 'CN=shared-cache-b');
    assert.equal(defaults.parseCount - start, 2);
  } finally {
    await server.close();
  }
});

test('certificates: { maxBytes } holds even when the span hook read the connection first (real @opentelemetry/instrumentation-http hook call)', async () => {
  const maxBytes = 256;
  assert.ok(pki.clients.valid.der.length > maxBytes);
  const mw = mtlsIdentity({ certificates: { maxBytes }, tracing: false, metrics: false });
  const hookSaw: string[] = [];
  const agent = keepAliveAgent(pki.clients.valid);
  const server = await startHttpsServer((req, res) => {
    const attributes = startIncomingSpanHook(req);
    hookSaw.push(String(attributes['mtls.client.verify']));
    mw(req, res, () => {
      const identity = getPeerIdentity(req);
      res.end(JSON.stringify({ verify: identity?.verify, certificate: identity?.certificate !== undefined }));
    });
  });
  try {
    for (let i = 0; i < 2; i++) {
      const response = await httpsRequest({ port: server.port, client: pki.clients.valid, agent });
      assert.deepEqual(JSON.parse(response.body), { verify: 'FAILED:ERR_MTLS_CERT_TOO_LARGE', certificate: false });
    }
    // The hook parses with the process-default cache (no limit of the middleware's applies to it);
    // on the kept-alive connection it then sees the middleware's identity.
    assert.deepEqual(hookSaw, ['SUCCESS', 'FAILED:ERR_MTLS_CERT_TOO_LARGE']);
  } finally {
    agent.destroy();
    await server.close();
  }
});

test('certificates: { cache } parses with the given cache, also after the span hook', async () => {
  const cache = new CertificateCache();
  const defaults = defaultCertificateCache();
  const [plain, hooked] = await Promise.all([
    pki.ca.issue({ subject: [{ type: 'CN', value: 'user-cache-a' }] }),
    pki.ca.issue({ subject: [{ type: 'CN', value: 'user-cache-b' }] }),
  ]);
  const mw = mtlsIdentity({ certificates: { cache }, tracing: false, metrics: false });
  const server = await startHttpsServer((req, res) => {
    if (req.url === '/hook') startIncomingSpanHook(req);
    mw(req, res, () => res.end(getPeerIdentity(req)?.certificate?.subject ?? '-'));
  });
  try {
    const start = defaults.parseCount;
    assert.equal((await httpsRequest({ port: server.port, client: plain })).body, 'CN=user-cache-a');
    assert.equal(cache.parseCount, 1);
    assert.equal(defaults.parseCount - start, 0);
    assert.equal((await httpsRequest({ port: server.port, path: '/hook', client: hooked })).body, 'CN=user-cache-b');
    assert.equal(cache.parseCount, 2);
    assert.equal(defaults.parseCount - start, 1);
  } finally {
    await server.close();
  }
});
