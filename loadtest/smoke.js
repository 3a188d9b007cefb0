// Smoke: every fixture once (and once more warm), for an even and an odd tenant: all 200,
// all priced.
import { FIXTURES, rate } from './lib.js';

export const options = {
  vus: 1,
  iterations: 2,
  thresholds: { checks: ['rate==1'], http_req_failed: ['rate==0'] },
};

export default function () {
  for (const f of FIXTURES) {
    if (!f.oddOnly) rate(f, 'tenant-0');
    rate(f, 'tenant-1');
  }
}
