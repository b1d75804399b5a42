/**
 * The README's pino-http recipe as a real Express app: pino-http (with the library's redaction
 * list and `mtlsLogFields` on the response side) mounted before `mtlsIdentity()`, served over
 * HTTPS to direct clients and over plain HTTP to a proxy. Every line pino writes is kept, parsed
 * and with the values that change per run (time, pid, hostname, response time, client port)
 * replaced, so tests can compare whole lines.
 */
import http from 'node:http';
import https from 'node:https';
import type net from 'node:net';
import { Writable } from 'node:stream';
import express from 'express';
import { pino } from 'pino';
import { pinoHttp } from 'pino-http';
import { FORWARDED_CERTIFICATE_REDACT_PATHS, mtlsIdentity, mtlsLogFields } from '../../lib/index.js';
import type { MtlsIdentityOptions } from '../../lib/index.js';
import type { DevCertificate, DevCertificateSet } from '../../lib/dev-certs/index.js';
import { startHttpsServer } from './https.js';

export interface PinoApp {
  /** HTTPS port for direct clients. */
  readonly directPort: number;
  /** Plain-HTTP port a proxy forwards to. */
  readonly upstreamPort: number;
  /** Every line pino wrote, as written. */
  readonly lines: readonly string[];
  /** One GET over HTTPS from 127.0.0.2; resolves once pino wrote its line for it, with that line. */
  send(port: number, client: DevCertificate | undefined, headers?: http.OutgoingHttpHeaders): Promise<string>;
  close(): Promise<void>;
}

/** A pino line with the run-dependent values replaced by fixed ones, re-serialized in the same key order. */
export function normalizePinoLine(line: string): string {
  const record = JSON.parse(line) as Record<string, unknown>;
  if ('time' in record) record.time = 0;
  if ('pid' in record) record.pid = 0;
  if ('hostname' in record) record.hostname = 'host';
  if ('responseTime' in record) record.responseTime = 0;
  const req = record.req as Record<string, unknown> | undefined;
  if (req !== undefined && 'remotePort' in req) req.remotePort = 0;
  const headers = req?.headers as Record<string, unknown> | undefined;
  if (headers !== undefined && typeof headers.host === 'string') headers.host = headers.host.replace(/:\d+$/, ':PORT');
  return JSON.stringify(record);
}

export async function startPinoApp(pki: DevCertificateSet, proxy?: MtlsIdentityOptions['proxy']): Promise<PinoApp> {
  const lines: string[] = [];
  const waiting: (() => void)[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n')) if (line !== '') lines.push(line);
      for (const wake of waiting.splice(0)) wake();
      callback();
    },
  });
  const app = express();
  // The README recipe: identity fields on the response side only, so the one entry is the
  // middleware's verdict, also when pino-http runs before the middleware.
  app.use(
    pinoHttp({
      logger: pino({ redact: [...FORWARDED_CERTIFICATE_REDACT_PATHS] }, stream),
      customSuccessObject: (req, _res, value: object) => ({ ...value, ...mtlsLogFields(req) }),
      customErrorObject: (req, _res, _error, value: object) => ({ ...value, ...mtlsLogFields(req) }),
    }),
  );
  app.use(mtlsIdentity(proxy === undefined ? {} : { proxy }));
  app.get('/', (_req, res) => {
    res.type('text/plain').send('ok');
  });

  const upstream = http.createServer(app);
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const direct = await startHttpsServer(app, { pki });

  return {
    directPort: direct.port,
    upstreamPort: (upstream.address() as net.AddressInfo).port,
    lines,
    async send(port, client, headers = {}) {
      const before = lines.length;
      await new Promise<void>((resolve, reject) => {
        https
          .request(
            {
              host: '127.0.0.1',
              localAddress: '127.0.0.2',
              port,
              path: '/',
              headers: { host: `localhost:${port}`, ...headers },
              ca: pki.ca.certPem,
              servername: 'localhost',
              agent: false,
              ...(client ? { cert: client.chainPem, key: client.keyPem } : {}),
            },
            (res) => {
              res.resume();
              res.on('end', resolve);
            },
          )
          .on('error', reject)
          .end();
      });
      while (lines.length === before) await new Promise<void>((resolve) => waiting.push(resolve));
      return lines[before]!;
    },
    async close() {
      await direct.close();
      upstream.closeAllConnections();
      await new Promise<void>((resolve) => upstream.close(() => resolve()));
    },
  };
}
