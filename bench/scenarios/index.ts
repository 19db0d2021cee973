import type { Scenario } from '../lib/scenario.js';
import { cacheScenario } from './cache.js';
import { clusterScenario } from './cluster.js';
import { foundationScenario } from './foundation.js';
import { fullstackScenario } from './fullstack.js';
import { ratelimitScenario } from './ratelimit.js';

/** Every scenario `pnpm bench` knows, in the order they run when none is named. */
export const scenarios: readonly Scenario[] = [foundationScenario, ratelimitScenario, cacheScenario, fullstackScenario, clusterScenario];
