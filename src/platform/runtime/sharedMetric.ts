import client from 'prom-client';

/*
 * A metric that several parts of one process report into (one cache per namespace, one plugin per
 * app): the first caller registers it with `config`, later callers get the same one, so the series
 * share a family instead of prom-client refusing a second registration of the name.
 */

/** The counter `config.name` of `registry`, registered with `config` by the first caller. */
export function sharedCounter<T extends string>(registry: client.Registry, config: Omit<client.CounterConfiguration<T>, 'registers'>): client.Counter<T> {
  return (registry.getSingleMetric(config.name) as client.Counter<T> | undefined) ?? new client.Counter({ ...config, registers: [registry] });
}

/** The gauge `config.name` of `registry`, registered with `config` by the first caller. */
export function sharedGauge<T extends string>(registry: client.Registry, config: Omit<client.GaugeConfiguration<T>, 'registers'>): client.Gauge<T> {
  return (registry.getSingleMetric(config.name) as client.Gauge<T> | undefined) ?? new client.Gauge({ ...config, registers: [registry] });
}

/** The histogram `config.name` of `registry`, registered with `config` by the first caller. */
export function sharedHistogram<T extends string>(registry: client.Registry, config: Omit<client.HistogramConfiguration<T>, 'registers'>): client.Histogram<T> {
  return (registry.getSingleMetric(config.name) as client.Histogram<T> | undefined) ?? new client.Histogram({ ...config, registers: [registry] });
}
