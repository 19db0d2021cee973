import { join } from 'node:path';
import { fetchOnce, warmUp } from '../lib/load.js';
import { measureProxyRounds, proxyRoundSections, type RoundFigures, roundStatistics, starvedSubjectsWarning } from '../lib/proxy-rounds.js';
import { encodeRequest } from '../lib/http-connection.js';
import { chatRequestBody, streamChunkCount, upstreamModel } from '../lib/openai-payloads.js';
import { spawnTarget, type TargetProcess } from '../lib/processes.js';
import type { BenchSettings, Goal, Scenario, ScenarioReport } from '../lib/scenario.js';
import { formatNumber, formatRatio, formatSignedMs } from '../lib/stats.js';
import { renderTable } from '../lib/table.js';
import { runMeasurementChild } from '../lib/child-measurement.js';
import type { TranslationWork } from '../lib/translation-work.js';

/** Goals of the foundation: the gateway without plugins costs little more than a bare Node proxy. */
const minimumThroughputRatio = 0.8;
const maximumAddedP50Ms = 0.15;

const providerId = 'mock';

interface Subject {
  /** `direct`, `bare` or `gateway`. */
  name: string;
  description: string;
  process: TargetProcess;
  model: string;
}

export const foundationScenario: Scenario = {
  name: 'foundation',
  summary: 'direct vs bare node:http+undici proxy vs gateway without plugins: RPS at c=64, added latency, added time to first chunk',

  async run(settings: BenchSettings): Promise<ScenarioReport> {
    const started: TargetProcess[] = [];
    try {
      settings.log('starting the mock upstream, the bare proxy and the gateway…');
      const upstream = await spawnTarget({
        name: 'mock upstream',
        module: new URL('../targets/mock-upstream.ts', import.meta.url),
        options: { chunkIntervalMs: settings.chunkIntervalMs },
        core: settings.harnessCore,
      });
      started.push(upstream);
      // `direct` is a second mock on the target core: what the harness reaches with no proxy at all.
      const [direct, bare, gateway] = await Promise.all([
        spawnTarget({
          name: 'direct',
          module: new URL('../targets/mock-upstream.ts', import.meta.url),
          options: { chunkIntervalMs: settings.chunkIntervalMs },
          core: settings.targetCore,
        }),
        spawnTarget({
          name: 'bare',
          module: new URL('../targets/bare-proxy.ts', import.meta.url),
          options: { upstreamUrl: upstream.url },
          core: settings.targetCore,
        }),
        spawnTarget({
          name: 'gateway',
          module: new URL('../targets/gateway.ts', import.meta.url),
          options: { upstreamUrl: upstream.url, providerId },
          core: settings.targetCore,
          cpuProfileFile: settings.profileDirectory ? join(settings.profileDirectory, `gateway-${Date.now()}.cpuprofile`) : undefined,
        }),
      ]);
      started.push(direct, bare, gateway);

      const subjects: Subject[] = [
        { name: 'direct', description: 'client → mock upstream', process: direct, model: upstreamModel },
        { name: 'bare', description: 'client → node:http + undici → mock', process: bare, model: upstreamModel },
        { name: 'gateway', description: 'client → createGateway (no plugins) → mock', process: gateway, model: `${providerId}/${upstreamModel}` },
      ];
      for (const subject of subjects) await checkAnswers(subject);
      for (const subject of subjects) {
        settings.log(`warming up ${subject.name}…`);
        const url = new URL(subject.process.url);
        await warmUp({ url, request: plainRequest(url, subject), connections: settings.connections, requests: settings.initialWarmupRequests, maxDurationMs: 15_000 });
      }

      const rounds = await measureProxyRounds(
        subjects.map((subject) => {
          const url = new URL(subject.process.url);
          const json = plainRequest(url, subject);
          const streams = streamRequest(url, subject);
          return { name: subject.name, process: subject.process, json: () => json, streams: () => streams };
        }),
        settings,
        (subject) => (subject.name === 'direct' ? [] : [upstream]),
      );
      settings.log('measuring the translation work alone…');
      const translation = await runMeasurementChild<TranslationWork>(new URL('../lib/translation-work.ts', import.meta.url), {}, settings.targetCore);
      return report(subjects, rounds, settings, translation);
    } finally {
      await Promise.all(started.map((process) => process.stop()));
    }
  },
};

function plainRequest(url: URL, subject: Subject): Buffer {
  return encodeRequest(url, 'POST', '/v1/chat/completions', chatRequestBody(subject.model, false), { authorization: 'Bearer sk-bench' });
}

function streamRequest(url: URL, subject: Subject): Buffer {
  return encodeRequest(url, 'POST', '/v1/chat/completions', chatRequestBody(subject.model, true), { authorization: 'Bearer sk-bench' });
}

/** Refuses to measure a subject that does not answer correctly: a fast wrong answer is no result. */
async function checkAnswers(subject: Subject): Promise<void> {
  const url = new URL(subject.process.url);
  const plain = await fetchOnce(url, plainRequest(url, subject));
  const text = plain.body!.toString('utf8');
  if (plain.status !== 200) throw new Error(`${subject.name} answered HTTP ${plain.status}: ${text.slice(0, 300)}`);
  const completion = JSON.parse(text) as { object?: string; choices?: Array<{ message?: { content?: string } }> };
  if (completion.object !== 'chat.completion' || !completion.choices?.[0]?.message?.content) {
    throw new Error(`${subject.name} did not answer a chat completion: ${text.slice(0, 300)}`);
  }
  const stream = await fetchOnce(url, streamRequest(url, subject));
  const events = stream.body!.toString('utf8').split('\n\n').filter((event) => event.startsWith('data: '));
  const chunks = events.filter((event) => event !== 'data: [DONE]');
  if (stream.status !== 200 || chunks.length !== streamChunkCount || events.at(-1) !== 'data: [DONE]') {
    throw new Error(`${subject.name} did not stream ${streamChunkCount} chunks and [DONE]: HTTP ${stream.status}, ${chunks.length} chunks.`);
  }
}

function report(subjects: Subject[], rounds: Array<Map<string, RoundFigures>>, settings: BenchSettings, translation: TranslationWork): ScenarioReport {
  const statistics = roundStatistics(rounds, 'bare');
  const { mid, added } = statistics;
  const ratio = (name: string) => statistics.ratio(name, (figures) => figures.requestsPerSecond);
  const names = subjects.map((subject) => subject.name);

  const perRound = [
    `gateway/bare RPS:      ${rounds.map((round) => formatRatio(round.get('gateway')!.requestsPerSecond / round.get('bare')!.requestsPerSecond)).join('  ')}`,
    `added p50 latency:     ${rounds.map((round) => formatSignedMs(round.get('gateway')!.latencyP50 - round.get('bare')!.latencyP50)).join('  ')}`,
    `added p50 first chunk: ${rounds.map((round) => formatSignedMs(round.get('gateway')!.firstChunkP50 - round.get('bare')!.firstChunkP50)).join('  ')}`,
  ].join('\n');

  const throughputRatio = ratio('gateway');
  const addedP50 = added('gateway', (figures) => figures.latencyP50);
  const goals: Goal[] = [
    { description: `gateway RPS ≥ ${minimumThroughputRatio}× bare`, measured: formatRatio(throughputRatio), met: throughputRatio >= minimumThroughputRatio },
    { description: `gateway adds ≤ ${maximumAddedP50Ms} ms p50 latency`, measured: formatSignedMs(addedP50), met: addedP50 <= maximumAddedP50Ms },
  ];
  const sections = [
    ...proxyRoundSections(names, statistics, 'bare', settings),
    { title: `Per round (${settings.rounds} rounds; the tables show medians)`, body: perRound },
    { title: "Where the gateway's CPU goes (per request, medians)", body: costBreakdown(mid, translation) },
  ];
  const warning = starvedSubjectsWarning(names.filter((name) => name !== 'direct'), statistics, 'other processes');
  if (warning) sections.push(warning);
  return { sections, goals };
}

/**
 * Splits the gateway's CPU per request into what the bare proxy also spends, the translation work no
 * OpenAI-compatible gateway can skip (measured alone), and the rest (HTTP handling, upstream client,
 * cancellation, promises): the part worth profiling. Also prints the best RPS ratio the translation work
 * alone would leave, so a goal can be read against what is possible.
 */
function costBreakdown(mid: (name: string, pick: (figures: RoundFigures) => number) => number, translation: TranslationWork): string {
  const bare = mid('bare', (figures) => figures.cpuPerRequest ?? Number.NaN);
  const gateway = mid('gateway', (figures) => figures.cpuPerRequest ?? Number.NaN);
  const rows = [
    ['bare proxy (node:http + undici)', `${formatNumber(bare)} µs`, ''],
    ...translation.steps.map((entry) => [`+ ${entry.step}`, `${entry.microseconds.toFixed(1)} µs`, 'measured alone']),
    ['+ everything else the gateway does', `${formatNumber(gateway - bare - translation.totalMicroseconds)} µs`, 'gateway − bare − translation'],
    ['= gateway', `${formatNumber(gateway)} µs`, ''],
  ];
  const ceiling = bare / (bare + translation.totalMicroseconds);
  return `${renderTable(['part', 'CPU/request', ''], rows)}\nWith nothing but the translation work on top of the bare proxy, the gateway would reach ${formatRatio(ceiling)} of its RPS.`;
}
