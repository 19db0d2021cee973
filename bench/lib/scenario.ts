/** What every scenario receives from the command line (see run.ts for the flags and defaults). */
export interface BenchSettings {
  /** Each measurement is repeated this many times, interleaved across targets; reports show medians. */
  rounds: number;
  /** Measured window of each throughput run. */
  durationMs: number;
  /** Unmeasured load before each throughput window. */
  warmupMs: number;
  /** Unmeasured requests to each subject once, before the first round: lets V8 optimise the hot paths. */
  initialWarmupRequests: number;
  /** Concurrent connections for throughput. */
  connections: number;
  /** Requests per one-at-a-time latency measurement. */
  latencyRequests: number;
  /** Streams per time-to-first-chunk measurement. */
  streamRequests: number;
  /** Pause between the mock upstream's stream events. */
  chunkIntervalMs: number;
  /** Requests of a long run whose memory is sampled from start to end (0 skips it). */
  longRequests: number;
  /** Core for the systems under test, and core for the load generator and mock upstream. */
  targetCore: number;
  harnessCore: number;
  /** When set, the gateway process writes a CPU profile of its steady state into this folder. */
  profileDirectory: string | undefined;
  /** Progress lines go here (stderr), so stdout holds only the report. */
  log(message: string): void;
}

export interface Goal {
  description: string;
  /** The measured figure, formatted. */
  measured: string;
  met: boolean;
}

export interface ReportSection {
  title: string;
  /** Rendered table or text. */
  body: string;
}

export interface ScenarioReport {
  sections: ReportSection[];
  goals: Goal[];
}

/**
 * One benchmark: starts its processes, measures, stops them, and returns what to print. Scenarios are
 * registered in `scenarios/index.ts` and chosen with `pnpm bench --scenario <name>`.
 */
export interface Scenario {
  name: string;
  /** One line for `--list`. */
  summary: string;
  run(settings: BenchSettings): Promise<ScenarioReport>;
}
