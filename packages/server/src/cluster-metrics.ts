import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry } from 'prom-client';

/*
 * One /metrics for the whole cluster. Workers share the port, so a scrape reaches whichever worker the
 * connection landed on; its own counters would be a random fraction of the truth. The worker that gets
 * the scrape asks the primary, which collects every worker's metrics over IPC and adds them up.
 *
 *   worker ──request──▶ primary ──collect──▶ every worker ──part──▶ primary ──answer──▶ worker
 */

const messageTypes = {
  request: 'switchyard:metrics-request',
  collect: 'switchyard:metrics-collect',
  part: 'switchyard:metrics-part',
  answer: 'switchyard:metrics-answer',
} as const;

interface MetricsMessage {
  type: (typeof messageTypes)[keyof typeof messageTypes];
  id: number;
  metrics?: unknown[];
  text?: string;
  contentType?: string;
  error?: string;
}

function isMetricsMessage(message: unknown): message is MetricsMessage {
  const type = (message as { type?: unknown } | null)?.type;
  return typeof type === 'string' && (Object.values(messageTypes) as string[]).includes(type);
}

/**
 * How each gauge combines across workers. Counters and histograms add up, as do gauges by default
 * (requests in flight); a circuit breaker's state does not: the cluster reports the worst one.
 */
const gaugeAggregators: Record<string, 'max' | 'min' | 'average'> = {
  switchyard_circuit_breaker_state: 'max',
};

/** Anything with prom-client's `getMetricsAsJSON`, such as the observability plugin's registry. */
export interface MetricsSource {
  getMetricsAsJSON(): Promise<unknown[]>;
}

/** Worker side: answers the primary's collection requests with this worker's metrics. Returns a function that stops. */
export function shareWorkerMetrics(source: MetricsSource): () => void {
  const onMessage = (message: unknown) => {
    if (!isMetricsMessage(message) || message.type !== messageTypes.collect) return;
    source.getMetricsAsJSON().then(
      (metrics) => {
        const adjusted = metrics.map((metric) => {
          const name = (metric as { name?: string }).name;
          return name !== undefined && gaugeAggregators[name] ? { ...(metric as object), aggregator: gaugeAggregators[name] } : metric;
        });
        process.send?.({ type: messageTypes.part, id: message.id, metrics: adjusted } satisfies MetricsMessage);
      },
      (error: unknown) => process.send?.({ type: messageTypes.part, id: message.id, error: String(error) } satisfies MetricsMessage),
    );
  };
  process.on('message', onMessage);
  return () => process.off('message', onMessage);
}

let nextRequestId = 0;

/** Worker side: the whole cluster's metrics in Prometheus text format, from the primary. */
export function requestClusterMetrics(timeoutMs = 5_000): Promise<{ text: string; contentType: string }> {
  return new Promise((resolve, reject) => {
    if (!process.send) {
      reject(new Error('not a cluster worker'));
      return;
    }
    const id = nextRequestId++;
    const finish = () => {
      clearTimeout(timer);
      process.off('message', onMessage);
    };
    const onMessage = (message: unknown) => {
      if (!isMetricsMessage(message) || message.type !== messageTypes.answer || message.id !== id) return;
      finish();
      if (message.error !== undefined) reject(new Error(message.error));
      else resolve({ text: message.text ?? '', contentType: message.contentType ?? 'text/plain; version=0.0.4; charset=utf-8' });
    };
    const timer = setTimeout(() => {
      finish();
      reject(new Error(`the cluster primary did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
    process.on('message', onMessage);
    process.send({ type: messageTypes.request, id } satisfies MetricsMessage);
  });
}

interface Collection {
  parts: unknown[][];
  pending: Set<Worker>;
  done: () => void;
}

/**
 * Primary side: serves workers' requests for the cluster's metrics. Workers that do not answer within
 * `collectTimeoutMs` (one that is starting or stuck) are left out rather than failing the scrape.
 * Returns a function that stops.
 */
export function serveClusterMetrics(options: { collectTimeoutMs?: number } = {}): () => void {
  const collectTimeoutMs = options.collectTimeoutMs ?? 2_000;
  const collections = new Map<number, Collection>();
  let nextCollectionId = 0;

  async function collect(): Promise<{ text: string; contentType: string }> {
    const id = nextCollectionId++;
    const workers = Object.values(cluster.workers ?? {}).filter((worker): worker is Worker => worker !== undefined && worker.isConnected());
    const collection: Collection = { parts: [], pending: new Set(workers), done: () => {} };
    const finished = new Promise<void>((resolve) => (collection.done = resolve));
    collections.set(id, collection);
    for (const worker of workers) worker.send({ type: messageTypes.collect, id } satisfies MetricsMessage);
    let timer: NodeJS.Timeout | undefined;
    if (workers.length > 0) await Promise.race([finished, new Promise<void>((resolve) => (timer = setTimeout(resolve, collectTimeoutMs)))]);
    clearTimeout(timer);
    collections.delete(id);
    const registry = AggregatorRegistry.aggregate(collection.parts);
    return { text: await registry.metrics(), contentType: registry.contentType };
  }

  const onMessage = (worker: Worker, message: unknown) => {
    if (!isMetricsMessage(message)) return;
    if (message.type === messageTypes.part) {
      const collection = collections.get(message.id);
      if (!collection || !collection.pending.delete(worker)) return;
      if (message.metrics) collection.parts.push(message.metrics);
      if (collection.pending.size === 0) collection.done();
    } else if (message.type === messageTypes.request) {
      collect().then(
        (result) => worker.isConnected() && worker.send({ type: messageTypes.answer, id: message.id, ...result } satisfies MetricsMessage),
        (error: unknown) => worker.isConnected() && worker.send({ type: messageTypes.answer, id: message.id, error: String(error) } satisfies MetricsMessage),
      );
    }
  };
  cluster.on('message', onMessage);
  return () => cluster.off('message', onMessage);
}
