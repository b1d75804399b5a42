/**
 * Span attributes through the real SDK, real instrumentations and the real OTLP/HTTP exporter,
 * decoded by a local receiver. The first test runs before any SDK is registered (the API's no-op).
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { context, trace, SpanKind, type Attributes } from '@opentelemetry/api';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import {
  InMemorySpanExporter,
  SimpleSpanProcessor,
  SamplingDecision,
  type Sampler,
  type SamplingResult,
} from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { registerInstrumentations } from '@opentelemetry/instrumentation';
import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { ExpressInstrumentation } from '@opentelemetry/instrumentation-express';
import type expressModule from 'express';
import { mtlsIdentity } from '../../lib/middleware.js';
import { createSpanObserver, spanAttributesOf } from '../../lib/outputs/tracing.js';
import { parseCertificate } from '../../lib/certificate/parse.js';
import type { DevCertificate, DevCertificateSet } from '../../lib/dev-certs/index.js';
import { MAX_LOG_FIELD_LENGTH, TRUNCATION_MARKER } from '../../lib/internal/log-safe.js';
import { getTestPki } from '../helpers/pki.js';
import { issueLargeClient, LARGE_SERIAL, LARGE_SPIFFE_ID } from '../helpers/large-certificate.js';
import { startHttpsServer, httpsRequest } from '../helpers/https.js';
import { startOtlpReceiver, type OtlpReceiver, type ReceivedSpan } from '../helpers/otlp-receiver.js';
import { startIncomingSpanHook } from '../../lib/span-hook.js';
import type { PeerIdentity } from '../../lib/identity/peer-identity.js';
import { getPeerIdentity } from '../../lib/get-peer-identity.js';

let pki: DevCertificateSet;
let large: DevCertificate;
before(async () => {
  pki = await getTestPki();
  large = await issueLargeClient(pki);
});

function expectedAttributes(der: Uint8Array, verify: string): Attributes {
  const c = parseCertificate(der);
  return {
    'tls.client.subject': c.subject,
    'tls.client.issuer': c.issuer,
    'tls.client.hash.sha256': c.fingerprint256,
    'tls.client.not_before': c.notBefore.toISOString(),
    'tls.client.not_after': c.notAfter.toISOString(),
    'mtls.client.serial_number': c.serialNumber,
    ...(c.spiffeId ? { 'mtls.client.spiffe_id': c.spiffeId } : {}),
    'mtls.client.verify': verify,
    'mtls.client.source': 'tls',
  };
}

function identityAttributes(attributes: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(attributes).filter(([k]) => k.startsWith('tls.client.') || k.startsWith('mtls.')));
}

test('spanAttributesOf: exact attributes, one frozen object per identity', () => {
  const certificate = parseCertificate(pki.clients.valid.der);
  const identity: PeerIdentity = { verified: true, verify: 'SUCCESS', source: 'tls', certificate };
  const attributes = spanAttributesOf(identity);
  assert.deepEqual(attributes, expectedAttributes(pki.clients.valid.der, 'SUCCESS'));
  assert.equal(attributes['tls.client.subject'], 'CN=alice,O=mtls-observability demo');
  assert.equal(attributes['mtls.client.spiffe_id'], 'spiffe://example.org/ns/demo/sa/alice');
  assert.match(String(attributes['tls.client.hash.sha256']), /^[0-9A-F]{64}$/);
  assert.equal(spanAttributesOf(identity), attributes);
  assert.ok(Object.isFrozen(attributes));
  assert.deepEqual(spanAttributesOf({ verified: false, verify: 'NONE', reason: 'CERT_MISSING', source: 'tls' }), {
    'mtls.client.verify': 'NONE',
    'mtls.client.source': 'tls',
  });
});

test('without an SDK: the span output is a no-op that never throws and costs well under a microsecond', async () => {
  const observer = createSpanObserver();
  assert.ok(observer);
  const identity: PeerIdentity = { verified: false, verify: 'NONE', reason: 'CERT_MISSING', source: 'tls' };
  const req = {} as IncomingMessage;
  const res = {} as ServerResponse;
  for (let i = 0; i < 10_000; i++) observer(identity, req, res);
  const n = 200_000;
  const start = process.hrtime.bigint();
  for (let i = 0; i < n; i++) observer(identity, req, res);
  const nsPerCall = Number(process.hrtime.bigint() - start) / n;
  assert.ok(nsPerCall < 1000, `${nsPerCall} ns per call`);
  // And a whole request through the middleware works with no SDK.
  const mw = mtlsIdentity();
  const server = await startHttpsServer((rq, rs) => mw(rq, rs, () => rs.end('ok')));
  try {
    assert.equal((await httpsRequest({ port: server.port, client: pki.clients.valid })).body, 'ok');
  } finally {
    await server.close();
  }
  assert.deepEqual(startIncomingSpanHook({ socket: { encrypted: undefined } } as unknown as IncomingMessage), {});
});

// --- with the SDK ------------------------------------------------------------------------------

const sampled: { name: string; attributes: Attributes }[] = [];
class RecordingSampler implements Sampler {
  shouldSample(_c: unknown, _t: string, name: string, kind: SpanKind, attributes: Attributes): SamplingResult {
    if (kind === SpanKind.SERVER) sampled.push({ name, attributes: { ...attributes } });
    return { decision: SamplingDecision.RECORD_AND_SAMPLED };
  }
  toString(): string {
    return 'RecordingSampler';
  }
}

let receiver: OtlpReceiver;
const memory = new InMemorySpanExporter();
let provider: NodeTracerProvider;
let unregister: () => void;
let httpInstrumentation: HttpInstrumentation;
/** The middleware alone must put the attributes on the server span: switch the hook off. */
function withoutHook(): void {
  httpInstrumentation.setConfig({});
}
let express: typeof expressModule;

test('with the SDK: set up the OTLP exporter, HTTP and Express instrumentations', async () => {
  receiver = await startOtlpReceiver();
  provider = new NodeTracerProvider({
    sampler: new RecordingSampler(),
    spanProcessors: [
      new SimpleSpanProcessor(new OTLPTraceExporter({ url: `${receiver.url}/v1/traces` })),
      new SimpleSpanProcessor(memory),
    ],
  });
  provider.register();
  unregister = registerInstrumentations({
    tracerProvider: provider,
    instrumentations: [(httpInstrumentation = new HttpInstrumentation()), new ExpressInstrumentation()],
  });
  // instrumentation-http patches https.Server.prototype when 'https' is required after it is
  // enabled; instrumentation-express patches express when it is required (CommonJS).
  const require = createRequire(import.meta.url);
  require('node:https');
  express = require('express') as typeof expressModule;
});

async function serverSpanOf(path: string): Promise<{ server: ReceivedSpan; all: ReceivedSpan[] }> {
  let server: ReceivedSpan | undefined;
  await receiver.waitFor(() => {
    server = receiver.spans.find((s) => s.kind === 2 && s.attributes['url.path'] === path);
    return server !== undefined;
  }, `the server span of ${path}`);
  await new Promise((r) => setTimeout(r, 50));
  return { server: server!, all: receiver.spans.filter((s) => s.traceId === server!.traceId) };
}

test('Express + instrumentations: a verified request\'s server span carries the tls.client.* attributes (received over OTLP), the middleware span does not', async () => {
  withoutHook();
  const app = express();
  app.use(mtlsIdentity());
  app.get('/verified', (_req, res) => {
    res.send('ok');
  });
  const server = await startHttpsServer(app as never);
  try {
    assert.equal((await httpsRequest({ port: server.port, path: '/verified', client: pki.clients.valid })).body, 'ok');
    const { server: span, all } = await serverSpanOf('/verified');
    assert.deepEqual(identityAttributes(span.attributes), expectedAttributes(pki.clients.valid.der, 'SUCCESS'));
    assert.equal(span.scope, '@opentelemetry/instrumentation-http');
    const middlewareSpans = all.filter((s) => s.scope === '@opentelemetry/instrumentation-express');
    assert.ok(middlewareSpans.some((s) => s.name.includes('mtlsIdentityMiddleware')), all.map((s) => s.name).join());
    for (const s of middlewareSpans) assert.deepEqual(identityAttributes(s.attributes), {}, s.name);
    assert.equal(receiver.rejected.length, 0);
    console.log('OTLP server span attributes:', JSON.stringify(identityAttributes(span.attributes)));
  } finally {
    await server.close();
  }
});

test('startIncomingSpanHook: the sampler sees the identity when the server span starts', async () => {
  sampled.length = 0;
  httpInstrumentation.setConfig({ startIncomingSpanHook });
  // The middleware sees the hook already set these exact attributes and does not set them again.
  const mw = mtlsIdentity();
  const server = await startHttpsServer((rq, rs) => mw(rq, rs, () => rs.end('ok')));
  try {
    await httpsRequest({ port: server.port, path: '/sampled', client: pki.clients.valid });
    const decision = sampled.find((s) => s.attributes['url.path'] === '/sampled');
    assert.ok(decision, JSON.stringify(sampled));
    assert.deepEqual(identityAttributes(decision.attributes), expectedAttributes(pki.clients.valid.der, 'SUCCESS'));
    const span = (await serverSpanOf('/sampled')).server;
    assert.deepEqual(identityAttributes(span.attributes), expectedAttributes(pki.clients.valid.der, 'SUCCESS'));
  } finally {
    await server.close();
  }
});

test('a failed verification and a missing certificate are on the span too (plain node:https handler)', async () => {
  withoutHook();
  const mw = mtlsIdentity();
  const server = await startHttpsServer((rq, rs) => mw(rq, rs, () => rs.end('ok')));
  try {
    await httpsRequest({ port: server.port, path: '/expired', client: pki.clients.expired });
    await httpsRequest({ port: server.port, path: '/none' });
    const expired = (await serverSpanOf('/expired')).server;
    assert.deepEqual(identityAttributes(expired.attributes), expectedAttributes(pki.clients.expired.der, 'FAILED:CERT_HAS_EXPIRED'));
    const none = (await serverSpanOf('/none')).server;
    assert.deepEqual(identityAttributes(none.attributes), { 'mtls.client.verify': 'NONE', 'mtls.client.source': 'tls' });
  } finally {
    await server.close();
  }
});

test('a certificate of tens of kilobytes gives bounded, marked span attributes; res.locals keeps the full values', async () => {
  withoutHook();
  const app = express();
  const subjects: number[] = [];
  app.use(mtlsIdentity());
  app.get('/large', (req, res) => {
    subjects.push(getPeerIdentity(req)!.certificate!.subject.length);
    res.send('ok');
  });
  const server = await startHttpsServer(app as never);
  try {
    assert.equal((await httpsRequest({ port: server.port, path: '/large', client: large })).body, 'ok');
    const { server: received } = await serverSpanOf('/large');
    const span = memory.getFinishedSpans().find((s) => s.kind === SpanKind.SERVER && s.attributes['url.path'] === '/large');
    assert.ok(span);
    const c = parseCertificate(large.der);
    assert.equal(c.subject.length, 22_029);
    assert.deepEqual(subjects, [22_029]);
    // `CN=` and 255 `\0Aa` are 1,023 characters; the next `\0A` would pass 1,024.
    const expected = {
      'tls.client.subject': `CN=${'\\0Aa'.repeat(255)}${TRUNCATION_MARKER}`,
      'tls.client.issuer': 'CN=mtls-observability development CA',
      'tls.client.hash.sha256': c.fingerprint256,
      'tls.client.not_before': c.notBefore.toISOString(),
      'tls.client.not_after': c.notAfter.toISOString(),
      'mtls.client.serial_number': LARGE_SERIAL,
      'mtls.client.spiffe_id': `${LARGE_SPIFFE_ID.slice(0, MAX_LOG_FIELD_LENGTH)}${TRUNCATION_MARKER}`,
      'mtls.client.verify': 'SUCCESS',
      'mtls.client.source': 'tls',
    };
    assert.deepEqual(identityAttributes(span.attributes), expected);
    assert.equal(String(span.attributes['tls.client.subject']).length, 1_037);
    assert.equal(String(span.attributes['mtls.client.spiffe_id']).length, 1_038);
    // The same over OTLP.
    assert.deepEqual(identityAttributes(received.attributes), expected);
  } finally {
    await server.close();
  }
});

test('tracing: false leaves the span alone; an active non-recording span is skipped', async () => {
  withoutHook();
  const mw = mtlsIdentity({ tracing: false, metrics: false });
  const server = await startHttpsServer((rq, rs) => mw(rq, rs, () => rs.end('ok')));
  try {
    await httpsRequest({ port: server.port, path: '/off', client: pki.clients.valid });
    const span = (await serverSpanOf('/off')).server;
    assert.deepEqual(identityAttributes(span.attributes), {});
  } finally {
    await server.close();
  }
  const observer = createSpanObserver()!;
  const nonRecording = trace.wrapSpanContext({ traceId: '0af7651916cd43dd8448eb211c80319c', spanId: 'b7ad6b7169203331', traceFlags: 0 });
  context.with(trace.setSpan(context.active(), nonRecording), () => {
    observer({ verified: true, verify: 'SUCCESS', source: 'tls' }, {} as IncomingMessage, {} as ServerResponse);
  });
});

after(async () => {
  unregister?.();
  await provider?.shutdown();
  trace.disable();
  context.disable();
  await receiver?.close();
});
