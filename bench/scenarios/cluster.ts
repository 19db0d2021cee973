/*
 * The production server (`switchyard serve` from packages/server) with one worker against two: how far a
 * second worker process takes throughput. Both run at once, measured in alternation like every other
 * subject, with the server's default plugins (fallback, observability with its request log, the memory
 * cache) in front of the mock upstream. Every request is a cache miss (distinct requests in turn), checked
 * on the cluster's own /metrics at the end.
 *
 * On a two-core machine the load generator and mock upstream are pinned to core 0 and the server may use
 * both cores: a second worker shares core 0 with them, so the ratio shows what a second worker buys
 * there, not what it would on a dedicated core. CPU per request (the whole process tree's) is the fairer
 * figure of the two.
 */
import { cpus } from 'node:os';
import { distinctChatBody, distinctChatRequestsInTurn } from '../lib/distinct-requests.js';
import { encodeRequest } from '../lib/http-connection.js';
import { fetchOnce } from '../lib/load.js';
import { streamChunkCount, upstreamModel } from '../lib/openai-payloads.js';
import { spawnTarget, type TargetProcess } from '../lib/processes.js';
import { measureThroughputFigures, type ThroughputFigures } from '../lib/proxy-rounds.js';
import { type RequestSource, sendRequests } from '../lib/rotating-load.js';
import type { BenchSettings, Scenario, ScenarioReport } from '../lib/scenario.js';
import { type ServerCliProcess, startServerCli } from '../lib/server-cli.js';
import { formatMs, formatNumber, formatPercent, formatRatio, median } from '../lib/stats.js';
import { renderTable } from '../lib/table.js';

const providerId = 'mock';
const workerCounts = [1, 2] as const;
/**
 * Each worker has a cache of its own (10,000 entries) and sees about 1/workers of the requests: with more
 * distinct requests in turn than all workers' caches together hold, none comes round while still cached.
 */
const distinctJsonRequests = 32_768;

interface Subject {
  name: string;
  workers: number;
  process: ServerCliProcess;
  json: RequestSource;
}

/** `targetCpu` is the server's whole tree as a share of one core (2 = two cores busy). */
type RoundFigures = ThroughputFigures;

export const clusterScenario: Scenario = {
  name: 'cluster',
  summary: 'switchyard serve with 1 worker vs 2 workers (cluster mode): RPS at c=64, ratio 2 vs 1, CPU per request',

  async run(settings: BenchSettings): Promise<ScenarioReport> {
    const started: TargetProcess[] = [];
    try {
      settings.log('starting the mock upstream and the server with 1 and with 2 workers…');
      const upstream = await spawnTarget({ name: 'mock upstream', module: new URL('../targets/mock-upstream.ts', import.meta.url), options: { chunkIntervalMs: settings.chunkIntervalMs }, core: settings.harnessCore });
      started.push(upstream);
      const config = {
        server: { host: '127.0.0.1', port: 0, drainTimeoutMs: 2_000 },
        providers: [{ type: 'openai-compatible', id: providerId, baseURL: `${upstream.url}/v1`, apiKey: 'bench', models: [upstreamModel] }],
      };
      const subjects: Subject[] = [];
      for (const workers of workerCounts) {
        const name = `${workers} worker${workers === 1 ? '' : 's'}`;
        const process = await startServerCli({ name, config, workers });
        started.push(process);
        const url = new URL(process.url);
        subjects.push({
          name,
          workers,
          process,
          json: distinctChatRequestsInTurn({ url, model: `${providerId}/${upstreamModel}`, headers: { authorization: 'Bearer sk-bench' }, label: 'Question', count: distinctJsonRequests }),
        });
      }
      for (const subject of subjects) {
        await checkAnswers(subject);
        settings.log(`warming up ${subject.name}…`);
        // Every worker needs its own warm-up: connections are spread over them.
        await sendRequests({ url: new URL(subject.process.url), source: subject.json, connections: settings.connections, count: settings.initialWarmupRequests * subject.workers, maxDurationMs: 30_000 });
      }

      const rounds: Array<Map<string, RoundFigures>> = [];
      for (let round = 0; round < settings.rounds; round++) {
        const figures = new Map<string, RoundFigures>();
        for (const subject of round % 2 === 0 ? subjects : [...subjects].reverse()) {
          settings.log(`round ${round + 1}/${settings.rounds}: throughput of ${subject.name}…`);
          figures.set(subject.name, await measureThroughputFigures(subject, settings, [upstream]));
        }
        rounds.push(figures);
      }

      const cacheHits = new Map<string, number>();
      for (const subject of subjects) cacheHits.set(subject.name, await cacheHitCount(new URL(subject.process.url)));
      return report(subjects, rounds, cacheHits, settings);
    } finally {
      await Promise.all(started.map((process) => process.stop()));
    }
  },
};

async function checkAnswers(subject: Subject): Promise<void> {
  const url = new URL(subject.process.url);
  const model = `${providerId}/${upstreamModel}`;
  const plain = await fetchOnce(url, encodeRequest(url, 'POST', '/v1/chat/completions', distinctChatBody(model, false, 'Check', 0), { authorization: 'Bearer sk-bench' }));
  const text = plain.body!.toString('utf8');
  const completion = plain.status === 200 ? (JSON.parse(text) as { object?: string }) : undefined;
  if (completion?.object !== 'chat.completion') throw new Error(`${subject.name} did not answer a chat completion: HTTP ${plain.status} ${text.slice(0, 300)}`);
  const stream = await fetchOnce(url, encodeRequest(url, 'POST', '/v1/chat/completions', distinctChatBody(model, true, 'Check stream', 0), { authorization: 'Bearer sk-bench' }));
  const events = stream.body!.toString('utf8').split('\n\n').filter((event) => event.startsWith('data: '));
  if (stream.status !== 200 || events.length !== streamChunkCount + 1 || events.at(-1) !== 'data: [DONE]') {
    throw new Error(`${subject.name} did not stream ${streamChunkCount} chunks and [DONE]: HTTP ${stream.status}, ${events.length} events.`);
  }
  const processes = subject.process.processCount();
  const expected = subject.workers === 1 ? 1 : subject.workers + 1;
  if (processes < expected) throw new Error(`${subject.name}: ${processes} processes in the server's tree, expected at least ${expected}.`);
}

/** Requests answered from the cache, from the server's Prometheus metrics (every worker's, in cluster mode). */
async function cacheHitCount(url: URL): Promise<number> {
  const response = await fetch(new URL('/metrics', url));
  const text = await response.text();
  if (response.status !== 200) throw new Error(`/metrics answered HTTP ${response.status}: ${text.slice(0, 200)}`);
  let hits = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('switchyard_requests_total{') && /cache="(hit|semantic-hit)"/.test(line)) hits += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return hits;
}

function report(subjects: Subject[], rounds: Array<Map<string, RoundFigures>>, cacheHits: Map<string, number>, settings: BenchSettings): ScenarioReport {
  const mid = (name: string, pick: (figures: RoundFigures) => number | undefined) => median(rounds.map((round) => pick(round.get(name)!) ?? Number.NaN));
  const [one, two] = subjects as [Subject, Subject];
  const ratios = rounds.map((round) => round.get(two.name)!.requestsPerSecond / round.get(one.name)!.requestsPerSecond);
  const rows = subjects.map((subject) => [
    subject.name,
    formatNumber(mid(subject.name, (figures) => figures.requestsPerSecond)),
    subject === one ? '' : formatRatio(median(ratios)),
    formatMs(mid(subject.name, (figures) => figures.throughputP50), 2),
    formatMs(mid(subject.name, (figures) => figures.throughputP99), 2),
    formatPercent(mid(subject.name, (figures) => figures.targetCpu)),
    `${formatNumber(mid(subject.name, (figures) => figures.cpuPerRequest))} µs`,
    formatPercent(mid(subject.name, (figures) => figures.harnessCpu)),
    String(rounds.reduce((sum, round) => sum + round.get(subject.name)!.errors, 0)),
    String(cacheHits.get(subject.name) ?? '–'),
  ]);
  const cores = cpus().length;
  const notes = [
    `${one.name}: \`switchyard serve --workers 1\` serves in the started process (no primary). ${two.name}: a primary forks two workers sharing the port (node:cluster hands connections out in turn).`,
    `Server: default plugins (fallback, observability with its request log written to a file, memory cache with every request a miss), one OpenAI-compatible provider at the mock upstream.`,
    `The server may run on all ${cores} cores; the load generator and the mock upstream are pinned to core ${settings.harnessCore}, so ` +
      (cores <= 2 ? 'a second worker shares that core with them: the ratio shows what a second worker buys on this machine, not on a dedicated core.' : 'the workers share one core with them.'),
    `server CPU counts the primary and every worker (100 % = one core busy); harness CPU is the load generator plus the mock upstream.`,
    `${two.name}/${one.name} RPS per round: ${ratios.map(formatRatio).join('  ')}`,
  ].join('\n');
  return {
    sections: [
      {
        title: `Cluster mode: non-streamed chat completions, ${settings.connections} connections, ${settings.durationMs / 1000} s per run, ${settings.rounds} rounds (medians)`,
        body: renderTable(['server', 'RPS', 'vs 1 worker', 'p50', 'p99', 'server CPU', 'CPU/request', 'harness CPU', 'errors', 'cache hits'], rows),
      },
      { title: 'How to read it', body: notes },
    ],
    goals: [],
  };
}
