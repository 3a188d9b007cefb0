// Shared by the k6 tests in loadtest/: the fixtures, the tenant keys, one rating call.
// `loadtest/run` passes BASE_URL, STATE_API, TENANTS and FIXTURES ("path|tenants,...", where
// tenants is `any` or `odd`: the stand-in's odd tenants use socotra-reference, the only plan
// that prices rating-variants 009 and 019).
import http from 'k6/http';
import { check } from 'k6';

export const BASE_URL = __ENV.BASE_URL || 'http://127.0.0.1:10101';
export const STATE_API = __ENV.STATE_API || 'http://127.0.0.1:18080';
export const TENANTS = parseInt(__ENV.TENANTS || '1000', 10);

// open() runs in the init context: every VU holds the bodies once, as ArrayBuffers.
export const FIXTURES = (__ENV.FIXTURES || '').split(',').filter((s) => s).map((entry) => {
  const [path, tenants] = entry.split('|');
  return { name: path.split('/').pop(), body: open(path, 'b'), oddOnly: tenants === 'odd' };
});
if (FIXTURES.length === 0) {
  throw new Error('FIXTURES is empty: run through loadtest/run');
}

/** A tenant key in [from, to) that can price `fixture`. */
export function tenantFor(fixture, from = 0, to = TENANTS) {
  let n = from + Math.floor(Math.random() * (to - from));
  if (fixture.oddOnly && n % 2 === 0) n = n + 1 < to ? n + 1 : n - 1;
  return `tenant-${n}`;
}

export function pick() {
  return FIXTURES[Math.floor(Math.random() * FIXTURES.length)];
}

/** POSTs one rating request and checks the answer; `tags` label the metrics. */
export function rate(fixture, key, tags = {}) {
  const res = http.post(`${BASE_URL}/rate`, fixture.body, {
    headers: { 'content-type': 'application/json', 'x-smp-key': key },
    tags: Object.assign({ fixture: fixture.name }, tags),
  });
  check(res, {
    'status 200': (r) => r.status === 200,
    'priced': (r) => r.status === 200 && r.body.indexOf('pricedPerilCharacteristics') >= 0,
  }, tags);
  return res;
}

/** Switches the State API stand-in: normal | slow:MS | status:CODE | hang. */
export function stateMode(mode) {
  const res = http.post(`${STATE_API}/_admin/mode`, mode, { tags: { kind: 'admin' } });
  if (res.status !== 200) throw new Error(`state API mode ${mode}: HTTP ${res.status}`);
}
