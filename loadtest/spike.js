// Spike: a base rate (RATE, default 500/s), then 5x within two seconds, held 10 s, then back:
// no errors, bounded p99. 5x of 500 is what k6 pinned to one CPU can generate with these
// bodies (at RATE=1000 it dropped a tenth of the 5,000/s it was asked for, and its own
// backlog became the latency). The bound (P99_MS, default 50 ms) is looser than steady's:
// 1,000 new connections' worth of VUs start within two seconds, and their first requests
// queue behind each other on the rater's one CPU.
import { pick, rate, tenantFor } from './lib.js';

const BASE = parseInt(__ENV.RATE || '500', 10);

export const options = {
  scenarios: {
    spike: {
      executor: 'ramping-arrival-rate',
      startRate: BASE,
      timeUnit: '1s',
      preAllocatedVUs: 100,
      maxVUs: 500,
      stages: [
        { target: BASE, duration: '10s' },
        { target: BASE * 5, duration: '2s' },
        { target: BASE * 5, duration: '10s' },
        { target: BASE, duration: '2s' },
        { target: BASE, duration: '6s' },
      ],
    },
  },
  thresholds: {
    http_req_failed: ['rate<0.001'],
    checks: ['rate>0.999'],
    http_req_duration: [`p(99)<${__ENV.P99_MS || 50}`],
  },
};

export default function () {
  const f = pick();
  rate(f, tenantFor(f));
}
