// Steady: a constant arrival rate across TENANTS tenants and every fixture.
//
// p99 bound (P99_MS, default 10 ms): the rater's own p99 at half its maximum rate is under
// 1 ms (loadtest/bench-http, oha pinned on the other CPU); k6 is a JavaScript load generator
// sharing this 2-CPU machine, which adds scheduler delay of its own. 10 ms leaves room for
// that and for each tenant's first request (a State API fetch, about 1 ms on loopback),
// while any regression that puts real work on the hot path (a State API call per request,
// a lock convoy) still breaks it.
import { pick, rate, tenantFor } from './lib.js';

const RATE = parseInt(__ENV.RATE || '2000', 10);

export const options = {
  scenarios: {
    steady: {
      executor: 'constant-arrival-rate',
      rate: RATE,
      timeUnit: '1s',
      duration: __ENV.DURATION || '30s',
      preAllocatedVUs: 50,
      maxVUs: 300,
    },
  },
  thresholds: {
    http_req_failed: ['rate<0.001'],
    checks: ['rate>0.999'],
    http_req_duration: [`p(99)<${__ENV.P99_MS || 10}`],
    dropped_iterations: ['count<' + Math.ceil(RATE * 0.001 * 30)],
  },
};

export default function () {
  const f = pick();
  rate(f, tenantFor(f));
}
