/**
 * `pnpm bench [--scenario name …] [flags]`: runs benchmark scenarios and prints their tables and goals.
 * See bench/README.md for what each scenario measures and how to read the results.
 */
import { mkdirSync, readdirSync, statSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { buildStalePackages, packagesVariable } from './lib/packages-under-test.js';
import { canPinToCores, pinCurrentProcess } from './lib/processes.js';
import { summarizeProfile } from './lib/profile-summary.js';
import type { BenchSettings } from './lib/scenario.js';
import { scenarios } from './scenarios/index.js';

const usage = `Usage: pnpm bench [options]

  --scenario <name>        run only this scenario (repeatable); --list shows them
  --rounds <n>             repetitions of every measurement; medians are reported (default 3)
  --duration <seconds>     measured window of each throughput run (default 3)
  --warmup <seconds>       unmeasured load before each throughput window (default 1)
  --initial-warmup <n>     unmeasured requests to each subject before the first round (default 10000)
  --connections <n>        concurrent connections for throughput (default 64)
  --latency-requests <n>   requests per one-at-a-time latency run (default 2000)
  --stream-requests <n>    streams per time-to-first-chunk run (default 100)
  --chunk-interval <ms>    pause between the mock upstream's stream events (default 1)
  --long-requests <n>      requests of the fullstack scenario's long run, for memory growth (default 200000)
  --source                 run the packages' TypeScript sources through tsx instead of their builds
  --profile                profile the gateway's CPU and print its hottest functions
  --strict                 exit 1 when a goal is not met
  --list                   list the scenarios
  --help`;

const { values } = parseArgs({
  options: {
    scenario: { type: 'string', multiple: true },
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '3' },
    warmup: { type: 'string', default: '1' },
    'initial-warmup': { type: 'string', default: '10000' },
    connections: { type: 'string', default: '64' },
    'latency-requests': { type: 'string', default: '2000' },
    'stream-requests': { type: 'string', default: '100' },
    'chunk-interval': { type: 'string', default: '1' },
    'long-requests': { type: 'string', default: '200000' },
    source: { type: 'boolean', default: false },
    profile: { type: 'boolean', default: false },
    strict: { type: 'boolean', default: false },
    list: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  console.log(usage);
  process.exit(0);
}
if (values.list) {
  for (const scenario of scenarios) console.log(`${scenario.name.padEnd(14)} ${scenario.summary}`);
  process.exit(0);
}

function positiveNumber(flag: string, text: string, integer = true): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0 || (integer && !Number.isInteger(value))) {
    console.error(`--${flag} must be a ${integer ? 'whole ' : ''}number ≥ 0, got '${text}'.\n\n${usage}`);
    process.exit(2);
  }
  return value;
}

const selected = values.scenario ?? scenarios.map((scenario) => scenario.name);
const unknown = selected.filter((name) => !scenarios.some((scenario) => scenario.name === name));
if (unknown.length > 0) {
  console.error(`Unknown scenario ${unknown.join(', ')}; known: ${scenarios.map((scenario) => scenario.name).join(', ')}.`);
  process.exit(2);
}

const benchDirectory = fileURLToPath(new URL('.', import.meta.url));
const profileDirectory = values.profile ? resolve(benchDirectory, '.profiles') : undefined;
if (profileDirectory) mkdirSync(profileDirectory, { recursive: true });

// Every child inherits the choice; stale builds are rebuilt before anything is measured.
process.env[packagesVariable] = values.source ? 'source' : 'built';
if (!values.source) buildStalePackages((message) => process.stderr.write(`  ${message}\n`));

// Read before pinning: afterwards this process sees only its own core.
const coreCount = availableParallelism();
// The load generator and the mock upstream share core 0; systems under test get core 1 to themselves.
const pinned = pinCurrentProcess(0);
const settings: BenchSettings = {
  rounds: Math.max(1, positiveNumber('rounds', values.rounds)),
  durationMs: positiveNumber('duration', values.duration, false) * 1000,
  warmupMs: positiveNumber('warmup', values.warmup, false) * 1000,
  initialWarmupRequests: positiveNumber('initial-warmup', values['initial-warmup']),
  connections: Math.max(1, positiveNumber('connections', values.connections)),
  latencyRequests: Math.max(1, positiveNumber('latency-requests', values['latency-requests'])),
  streamRequests: Math.max(1, positiveNumber('stream-requests', values['stream-requests'])),
  chunkIntervalMs: positiveNumber('chunk-interval', values['chunk-interval'], false),
  longRequests: positiveNumber('long-requests', values['long-requests']),
  targetCore: 1,
  harnessCore: 0,
  profileDirectory,
  log: (message) => process.stderr.write(`  ${message}\n`),
};

console.log(
  `Switchyard bench — node ${process.version}, ${coreCount} cores (${cpus()[0]?.model.trim() ?? 'unknown CPU'}), ` +
    `${values.source ? 'package sources through tsx' : 'built packages'}, ` +
    (pinned && canPinToCores()
      ? `systems under test pinned to core ${settings.targetCore}, load generator and mock upstream to core ${settings.harnessCore}`
      : 'no core pinning (taskset missing or one core): figures are less stable'),
);
if (profileDirectory) console.log('Profiling the gateway: its figures below include the profiler’s overhead.');

let allMet = true;
const startedAt = Date.now();
for (const scenario of scenarios.filter((candidate) => selected.includes(candidate.name))) {
  const profilesBefore = new Set(profileDirectory ? readdirSync(profileDirectory) : []);
  console.log(`\n━━ ${scenario.name}: ${scenario.summary}`);
  const report = await scenario.run(settings);
  for (const section of report.sections) console.log(`\n${section.title}\n${section.body}`);
  if (report.goals.length > 0) {
    console.log('\nGoals');
    for (const goal of report.goals) {
      console.log(`  ${goal.met ? '✓' : '✗'} ${goal.description}: ${goal.measured}`);
      allMet &&= goal.met;
    }
  }
  if (profileDirectory) {
    const written = readdirSync(profileDirectory)
      .filter((file) => file.endsWith('.cpuprofile') && !profilesBefore.has(file))
      .map((file) => join(profileDirectory, file))
      .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
    for (const file of written) console.log(`\nGateway CPU profile: ${file}\n${summarizeProfile(file)}`);
  }
}
console.log(`\nDone in ${Math.round((Date.now() - startedAt) / 1000)} s.`);
if (values.strict && !allMet) process.exit(1);
