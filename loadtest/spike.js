// Spike: a base rate, then 5x within two seconds, held, then back: no errors, bounded p99.
// The bound (P99_MS, default 50 ms) is looser than steady's: during the ramp the rater's
// single CPU is past saturation for a moment and requests queue.
import { pick, rate, tenantFor } from './lib.js';

const BASE = parseInt(__ENV.RATE || '1000', 10);

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
