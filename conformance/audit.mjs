// GraphQL over HTTP conformance: graphql-http's server audits against the running server, with a
// bearer token on every request (the API refuses anonymous ones). Fails unless every MUST and
// SHOULD audit passes; MAY audits are reported only.
//
//   GRAPHQL_URL=http://127.0.0.1:18099/query GRAPHQL_TOKEN=… node conformance/audit.mjs
import { auditServer } from 'graphql-http';

const url = process.env.GRAPHQL_URL;
const token = process.env.GRAPHQL_TOKEN;
if (!url || !token) {
  console.error('GRAPHQL_URL and GRAPHQL_TOKEN are required');
  process.exit(2);
}
if (!/^http:\/\/(127\.0\.0\.1|localhost|\[::1\])[:/]/.test(url)) {
  console.error(`refusing to audit ${url}: loopback only`);
  process.exit(2);
}

const fetchFn = (input, init = {}) => {
  const headers = new Headers(init.headers);
  headers.set('authorization', `Bearer ${token}`);
  return fetch(input, { ...init, headers, signal: AbortSignal.timeout(10_000) });
};

const results = await auditServer({ url, fetchFn });
let failed = 0;
const counts = { MUST: [0, 0], SHOULD: [0, 0], MAY: [0, 0] };
for (const r of results) {
  const level = r.name.split(' ')[0];
  const tally = counts[level] ?? (counts[level] = [0, 0]);
  if (r.status === 'ok') {
    tally[0]++;
    continue;
  }
  tally[1]++;
  const required = level === 'MUST' || level === 'SHOULD';
  if (required) failed++;
  console.log(`${required ? 'FAIL' : 'note'} ${r.name}: ${r.reason}`);
}
for (const [level, [ok, notOk]] of Object.entries(counts)) {
  console.log(`${level}: ${ok} of ${ok + notOk} pass`);
}
const total = results.filter((r) => /^(MUST|SHOULD) /.test(r.name)).length;
console.log(`graphql-http: ${total - failed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
