/**
 * A minimal OTLP/HTTP receiver for tests: accepts the JSON encoding (`application/json`, what
 * `@opentelemetry/exporter-*-otlp-http` sends), optionally gzip-compressed, on `/v1/traces` and
 * `/v1/metrics` and `/v1/logs`, decodes spans, metric data points and log records into plain objects and answers 200 `{}`.
 * Listens on 127.0.0.1, port 0.
 */
import http from 'node:http';
import { gunzipSync } from 'node:zlib';
import type { AddressInfo } from 'node:net';

/** An OTLP `AnyValue` decoded to a JS value (`intValue` strings become numbers). */
export type DecodedValue = string | number | boolean | DecodedValue[] | null;

export interface ReceivedSpan {
  readonly name: string;
  /** OTLP SpanKind: 1 internal, 2 server, 3 client. */
  readonly kind: number;
  readonly traceId: string;
  readonly spanId: string;
  readonly parentSpanId: string | undefined;
  readonly scope: string;
  readonly attributes: Record<string, DecodedValue>;
}

export interface ReceivedPoint {
  readonly metric: string;
  readonly unit: string;
  readonly description: string;
  readonly type: 'sum' | 'gauge' | 'histogram';
  readonly monotonic?: boolean;
  readonly scope: string;
  readonly attributes: Record<string, DecodedValue>;
  /** Sum/gauge value; histogram: count. */
  readonly value: number;
  readonly bucketCounts?: number[];
  readonly explicitBounds?: number[];
}

export interface ReceivedLogRecord {
  readonly scope: string;
  readonly scopeVersion: string;
  readonly eventName: string | undefined;
  /** OTLP severity number (5 DEBUG, 9 INFO, 13 WARN, 17 ERROR). */
  readonly severityNumber: number | undefined;
  readonly severityText: string | undefined;
  readonly body: DecodedValue;
  /** Nanoseconds since the epoch, as sent. */
  readonly timeUnixNano: string | undefined;
  readonly attributes: Record<string, DecodedValue>;
}

export interface OtlpReceiver {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly spans: ReceivedSpan[];
  /** Metric exports in arrival order; each is the list of points of one export request. */
  readonly metricExports: ReceivedPoint[][];
  readonly logRecords: ReceivedLogRecord[];
  /** Requests that were not valid OTLP JSON (the test should expect none). */
  readonly rejected: string[];
  /** Resolves when `predicate` holds; rejects after `timeoutMs` (default 5 s). */
  waitFor(predicate: () => boolean, what: string, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

type AnyValue = {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
  arrayValue?: { values?: AnyValue[] };
};
type KeyValue = { key: string; value: AnyValue };

function decodeValue(value: AnyValue): DecodedValue {
  if (value.stringValue !== undefined) return value.stringValue;
  if (value.intValue !== undefined) return Number(value.intValue);
  if (value.doubleValue !== undefined) return value.doubleValue;
  if (value.boolValue !== undefined) return value.boolValue;
  if (value.arrayValue !== undefined) return (value.arrayValue.values ?? []).map(decodeValue);
  return null;
}

export function decodeAttributes(attributes: KeyValue[] | undefined): Record<string, DecodedValue> {
  const out: Record<string, DecodedValue> = {};
  for (const { key, value } of attributes ?? []) out[key] = decodeValue(value);
  return out;
}

/** OTLP JSON encodes trace and span ids as hex (the protobuf JSON mapping would say base64). */
function id(value: unknown): string | undefined {
  return typeof value === 'string' && value.length > 0 ? value : undefined;
}

interface SpansBody {
  resourceSpans?: { scopeSpans?: { scope?: { name?: string }; spans?: Record<string, unknown>[] }[] }[];
}

interface NumberPoint {
  attributes?: KeyValue[];
  asInt?: string | number;
  asDouble?: number;
  count?: string | number;
  bucketCounts?: (string | number)[];
  explicitBounds?: number[];
}

interface MetricsBody {
  resourceMetrics?: {
    scopeMetrics?: {
      scope?: { name?: string };
      metrics?: {
        name: string;
        unit?: string;
        description?: string;
        sum?: { dataPoints?: NumberPoint[]; isMonotonic?: boolean };
        gauge?: { dataPoints?: NumberPoint[] };
        histogram?: { dataPoints?: NumberPoint[] };
      }[];
    }[];
  }[];
}

interface LogsBody {
  resourceLogs?: {
    scopeLogs?: {
      scope?: { name?: string; version?: string };
      logRecords?: {
        eventName?: string;
        severityNumber?: number;
        severityText?: string;
        body?: AnyValue;
        timeUnixNano?: string | number;
        attributes?: KeyValue[];
      }[];
    }[];
  }[];
}

function decodeLogs(body: LogsBody): ReceivedLogRecord[] {
  const out: ReceivedLogRecord[] = [];
  for (const rl of body.resourceLogs ?? []) {
    for (const sl of rl.scopeLogs ?? []) {
      for (const record of sl.logRecords ?? []) {
        out.push({
          scope: sl.scope?.name ?? '',
          scopeVersion: sl.scope?.version ?? '',
          eventName: record.eventName,
          severityNumber: record.severityNumber,
          severityText: record.severityText,
          body: record.body === undefined ? null : decodeValue(record.body),
          timeUnixNano: record.timeUnixNano === undefined ? undefined : String(record.timeUnixNano),
          attributes: decodeAttributes(record.attributes),
        });
      }
    }
  }
  return out;
}

function decodeSpans(body: SpansBody): ReceivedSpan[] {
  const out: ReceivedSpan[] = [];
  for (const rs of body.resourceSpans ?? []) {
    for (const ss of rs.scopeSpans ?? []) {
      for (const span of ss.spans ?? []) {
        out.push({
          name: String(span.name),
          kind: Number(span.kind),
          traceId: String(id(span.traceId)),
          spanId: String(id(span.spanId)),
          parentSpanId: id(span.parentSpanId),
          scope: ss.scope?.name ?? '',
          attributes: decodeAttributes(span.attributes as KeyValue[] | undefined),
        });
      }
    }
  }
  return out;
}

function decodeMetrics(body: MetricsBody): ReceivedPoint[] {
  const out: ReceivedPoint[] = [];
  for (const rm of body.resourceMetrics ?? []) {
    for (const sm of rm.scopeMetrics ?? []) {
      for (const m of sm.metrics ?? []) {
        const base = { metric: m.name, unit: m.unit ?? '', description: m.description ?? '', scope: sm.scope?.name ?? '' };
        for (const p of m.sum?.dataPoints ?? []) {
          out.push({ ...base, type: 'sum', monotonic: m.sum?.isMonotonic === true, attributes: decodeAttributes(p.attributes), value: Number(p.asInt ?? p.asDouble) });
        }
        for (const p of m.gauge?.dataPoints ?? []) {
          out.push({ ...base, type: 'gauge', attributes: decodeAttributes(p.attributes), value: Number(p.asInt ?? p.asDouble) });
        }
        for (const p of m.histogram?.dataPoints ?? []) {
          out.push({
            ...base,
            type: 'histogram',
            attributes: decodeAttributes(p.attributes),
            value: Number(p.count),
            bucketCounts: (p.bucketCounts ?? []).map(Number),
            explicitBounds: p.explicitBounds ?? [],
          });
        }
      }
    }
  }
  return out;
}

export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const metricExports: ReceivedPoint[][] = [];
  const logRecords: ReceivedLogRecord[] = [];
  const rejected: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        let raw = Buffer.concat(chunks);
        if (req.headers['content-encoding'] === 'gzip') raw = gunzipSync(raw);
        if (!String(req.headers['content-type']).startsWith('application/json')) throw new Error(`content-type ${req.headers['content-type']}`);
        const body = JSON.parse(raw.toString('utf8')) as unknown;
        if (req.method !== 'POST') throw new Error(`method ${req.method}`);
        if (req.url === '/v1/traces') spans.push(...decodeSpans(body as SpansBody));
        else if (req.url === '/v1/metrics') metricExports.push(decodeMetrics(body as MetricsBody));
        else if (req.url === '/v1/logs') logRecords.push(...decodeLogs(body as LogsBody));
        else throw new Error(`path ${req.url}`);
        res.writeHead(200, { 'Content-Type': 'application/json' });
        res.end('{}');
      } catch (error) {
        rejected.push(String(error));
        res.writeHead(400);
        res.end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    spans,
    metricExports,
    logRecords,
    rejected,
    async waitFor(predicate, what, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate()) {
        if (Date.now() > deadline) throw new Error(`OTLP receiver: timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 10));
      }
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}
