// State API brown-out: the stand-in turns slow (2 s answers), then failing (503), then
// recovers, while traffic flows. Tenants cached before the brown-out (tenant-0..99, warmed
// in setup) must keep their latency and never fail: the cache serves them (fresh, then
// stale within the stale-if-error window, with one background refresh per key and back-off;
// loadtest/run sets a 5 s TTL so the stale path is exercised). Uncached tenants (new keys
// each request) may fail, but must fail fast with 503, never hang past the State API
// client's timeout. The cached p99 bound is steady's (20 ms, see steady.js): a brown-out must
// not move it.
import { sleep } from 'k6';
import { FIXTURES, pick, rate, stateMode, tenantFor } from './lib.js';

const CACHED = 100;

export const options = {
  scenarios: {
    cached: {
      executor: 'constant-arrival-rate',
      rate: parseInt(__ENV.RATE || '1000', 10),
      timeUnit: '1s',
      duration: '40s',
      preAllocatedVUs: 50,
      maxVUs: 200,
      exec: 'cached',
    },
    uncached: {
      executor: 'constant-arrival-rate',
      rate: 20,
      timeUnit: '1s',
      duration: '40s',
      preAllocatedVUs: 20,
      maxVUs: 200,
      exec: 'uncached',
    },
    faults: {
      executor: 'shared-iterations',
      vus: 1,
      iterations: 1,
      exec: 'faults',
    },
  },
  thresholds: {
    'http_req_failed{kind:cached}': ['rate<0.001'],
    'http_req_duration{kind:cached}': [`p(99)<${__ENV.P99_MS || 20}`],
    'checks{kind:cached}': ['rate>0.999'],
    // The State API client's total timeout is 2 s: nobody waits much longer.
    'http_req_duration{kind:uncached}': ['max<3000'],
  },
};

export function setup() {
  for (let t = 0; t < CACHED; t++) {
    for (const f of FIXTURES) {
      if (!f.oddOnly || t % 2 === 1) {
        rate(f, `tenant-${t}`, { kind: 'warmup' });
        break;
      }
    }
  }
}

export function cached() {
  const f = pick();
  rate(f, tenantFor(f, 0, CACHED), { kind: 'cached' });
}

let next = 0;
export function uncached() {
  // A key never seen before on every request (the VU id keeps VUs apart).
  const n = 100000 + __VU * 100000 + next++;
  const f = FIXTURES.find((x) => !x.oddOnly);
  // Unknown to the stand-in (it has TENANTS tenants): 401 when it answers, 503 when failing.
  rate(f, `tenant-${n}`, { kind: 'uncached' });
}

export function faults() {
  sleep(8);
  stateMode('slow:2000');
  sleep(12);
  stateMode('status:503');
  sleep(12);
  stateMode('normal');
}
