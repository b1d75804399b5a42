/** The server variants the benchmark compares, and which one each is measured against. */
export type VariantName = 'bare' | 'ref' | 'control' | 'mtls' | 'mtlsMetrics' | 'traceRef' | 'traceMtls';

export interface Variant {
  readonly label: string;
  readonly kind: 'bare' | 'express';
  readonly identity: boolean;
  readonly metrics: boolean;
  readonly tracing: boolean;
  /** The variant this one's ratio is computed against (itself for a reference). */
  readonly reference: VariantName;
}

export const VARIANTS: Readonly<Record<VariantName, Variant>> = {
  bare: { label: 'node:https bare handler (ceiling)', kind: 'bare', identity: false, metrics: false, tracing: false, reference: 'ref' },
  ref: { label: 'express + morgan combined (reference)', kind: 'express', identity: false, metrics: false, tracing: false, reference: 'ref' },
  // A/A control: the reference against a copy of itself; its ratio shows the method's own bias.
  control: { label: 'express + morgan combined (A/A control)', kind: 'express', identity: false, metrics: false, tracing: false, reference: 'ref' },
  mtls: { label: '+ identity + mtls-combined tokens', kind: 'express', identity: true, metrics: false, tracing: false, reference: 'ref' },
  mtlsMetrics: { label: '+ identity + tokens + metrics', kind: 'express', identity: true, metrics: true, tracing: false, reference: 'ref' },
  traceRef: { label: 'express + morgan + tracing (trace reference)', kind: 'express', identity: false, metrics: false, tracing: true, reference: 'traceRef' },
  traceMtls: { label: '+ tracing + identity + tokens + metrics', kind: 'express', identity: true, metrics: true, tracing: true, reference: 'traceRef' },
};
export const VARIANT_NAMES = Object.keys(VARIANTS) as VariantName[];

export const MODES = {
  keepalive: 'keep-alive',
  handshakeSame: 'new handshake, same cert',
  handshakeDistinct: 'new handshake, distinct cert',
  resume: 'TLS 1.3 resumption',
} as const;
export type ModeName = keyof typeof MODES;
export const MODE_NAMES = Object.keys(MODES) as ModeName[];
