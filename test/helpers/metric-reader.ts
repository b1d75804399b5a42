/**
 * The real OpenTelemetry metrics SDK with a reader the test collects from on demand (the pattern of
 * opentelemetry-js-contrib's own tests), plus a lookup of data points by attributes.
 */
import { MeterProvider, MetricReader, type ResourceMetrics, type DataPoint } from '@opentelemetry/sdk-metrics';

export class OnDemandMetricReader extends MetricReader {
  protected override async onForceFlush(): Promise<void> {}
  protected override async onShutdown(): Promise<void> {}
}

export interface TestMeter {
  readonly provider: MeterProvider;
  readonly reader: OnDemandMetricReader;
  /** Collects now; every data point of `name` as `{ attributes, value }`. */
  points(name: string): Promise<{ attributes: Record<string, unknown>; value: unknown }[]>;
  /** The value of the point of `name` whose attributes equal `attributes` exactly, or undefined. */
  value(name: string, attributes: Record<string, unknown>): Promise<unknown>;
  shutdown(): Promise<void>;
}

export function createTestMeter(): TestMeter {
  const reader = new OnDemandMetricReader();
  const provider = new MeterProvider({ readers: [reader] });
  const points = async (name: string) => {
    const { resourceMetrics, errors } = await reader.collect();
    if (errors.length > 0) throw new AggregateError(errors, 'metric collection failed');
    return pointsOf(resourceMetrics, name);
  };
  return {
    provider,
    reader,
    points,
    async value(name, attributes) {
      const all = await points(name);
      const key = canonical(attributes);
      return all.find((p) => canonical(p.attributes) === key)?.value;
    },
    shutdown: () => provider.shutdown(),
  };
}

export function pointsOf(resourceMetrics: ResourceMetrics, name: string): { attributes: Record<string, unknown>; value: unknown }[] {
  const out: { attributes: Record<string, unknown>; value: unknown }[] = [];
  for (const scope of resourceMetrics.scopeMetrics) {
    for (const metric of scope.metrics) {
      if (metric.descriptor.name !== name) continue;
      for (const point of metric.dataPoints as DataPoint<unknown>[]) {
        out.push({ attributes: { ...point.attributes }, value: point.value });
      }
    }
  }
  return out;
}

function canonical(attributes: Record<string, unknown>): string {
  return JSON.stringify(Object.keys(attributes).sort().map((k) => [k, attributes[k]]));
}
