// Soak: a moderate constant rate across every tenant and fixture for SOAK (default 3m);
// loadtest/run samples the rater's RSS and open file descriptors meanwhile and checks they
// level off. Same thresholds as steady (see steady.js for the p99 bound).
import { pick, rate, tenantFor } from './lib.js';

export const options = {
  scenarios: {
    soak: {
      executor: 'constant-arrival-rate',
      rate: parseInt(__ENV.RATE || '1000', 10),
      timeUnit: '1s',
      duration: __ENV.SOAK || '3m',
      preAllocatedVUs: 50,
      maxVUs: 300,
    },
  },
  thresholds: {
    http_req_failed: ['rate<0.001'],
    checks: ['rate>0.999'],
    http_req_duration: [`p(99)<${__ENV.P99_MS || 20}`],
  },
};

export default function () {
  const f = pick();
  rate(f, tenantFor(f));
}
