// Checks cross-subgraph queries through the gateway (gateway.mjs) over the Working Tracker
// subgraph and the hr subgraph (hr-subgraph.mjs), in both directions, plus what happens with
// unknown employees and without a token. Prints one PASS or FAIL line per check and a final
// "N passed, N failed" line; exits non-zero when a check fails. scripts/federation-check.sh
// starts everything and runs it.
//
// Environment:
//   GATEWAY_URL            the gateway, e.g. http://127.0.0.1:4000/
//   WT_SUBGRAPH_URL        the Working Tracker subgraph, e.g. http://127.0.0.1:8080/query
//   WT_TOKEN               a token of the demo tenant the subgraph accepts
//   KNOWN_EMPLOYEE_IDS     ids of employees of WT_TOKEN's tenant
//   UNKNOWN_EMPLOYEE_IDS   ids of no employee at all
//   FOREIGN_EMPLOYEE_IDS   ids of employees of another tenant (optional)
// The hr subgraph must have been started with HR_EMPLOYEE_IDS = KNOWN, UNKNOWN, FOREIGN, in
// that order.
import assert from 'node:assert/strict';

import { hrProfile, makeReviews, parseIds } from './hr-subgraph.mjs';

function required(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`check: set ${name}`);
    process.exit(2);
  }
  return v;
}

const gatewayURL = required('GATEWAY_URL');
const subgraphURL = required('WT_SUBGRAPH_URL');
const token = required('WT_TOKEN');
const known = parseIds(required('KNOWN_EMPLOYEE_IDS'));
const unknown = parseIds(required('UNKNOWN_EMPLOYEE_IDS'));
const foreign = parseIds(process.env.FOREIGN_EMPLOYEE_IDS);
const reviews = makeReviews([...known, ...unknown, ...foreign]);

async function gql(url, query, { variables, auth = `Bearer ${token}` } = {}) {
  const headers = { 'content-type': 'application/json' };
  if (auth) headers.authorization = auth;
  const res = await fetch(url, {
    method: 'POST',
    headers,
    body: JSON.stringify({ query, variables }),
    signal: AbortSignal.timeout(15_000),
  });
  const text = await res.text();
  try {
    return { status: res.status, ...JSON.parse(text) };
  } catch {
    throw new Error(`${url} answered HTTP ${res.status} with non-JSON: ${text.slice(0, 300)}`);
  }
}

const show = (v) => String(JSON.stringify(v)).slice(0, 800);

function noErrors(body) {
  assert.ok(!body.errors?.length, `unexpected errors: ${show(body.errors)}`);
  assert.ok(body.data, `no data: ${show(body)}`);
}

// Names of the known employees, straight from the Working Tracker subgraph.
async function subgraphNames() {
  const body = await gql(
    subgraphURL,
    'query($r: [_Any!]!) { _entities(representations: $r) { ... on Employee { id name } } }',
    { variables: { r: known.map((id) => ({ __typename: 'Employee', id })) } },
  );
  noErrors(body);
  const names = new Map();
  body.data._entities.forEach((e, i) => {
    assert.ok(e, `KNOWN_EMPLOYEE_IDS[${i}] ${known[i]} is no employee of the token's tenant`);
    names.set(e.id, e.name);
  });
  return names;
}

const EMPLOYEES_WITH_HR = `{
  employees(first: 5) { nodes { id name vacationDaysLeft badges projects { name } } }
}`;

const REVIEWS_WITH_EMPLOYEES = `{
  reviews { id rating employee { id name department { name } timeEntries(first: 2) { id } } }
}`;

const checks = [
  [
    'Go -> hr: employees(first: 5) from the Working Tracker subgraph carry vacationDaysLeft and badges from hr',
    async () => {
      const body = await gql(gatewayURL, EMPLOYEES_WITH_HR);
      noErrors(body);
      const nodes = body.data.employees.nodes;
      assert.equal(nodes.length, 5, `expected 5 employees, got ${show(nodes)}`);
      for (const e of nodes) {
        assert.ok(typeof e.name === 'string' && e.name, `employee ${e.id} has no name`);
        assert.ok(Array.isArray(e.projects), `employee ${e.id} has no projects list`);
        assert.deepEqual(
          { vacationDaysLeft: e.vacationDaysLeft, badges: e.badges },
          hrProfile(e.id),
          `hr fields of employee ${e.id}`,
        );
      }
      return `${nodes.map((e) => `${e.name}: ${e.vacationDaysLeft} days, [${e.badges.join(' ')}]`).join('; ')}`;
    },
  ],
  [
    'Go -> hr: an hr list field (Employee.reviews) on employees of the Working Tracker subgraph',
    async () => {
      const body = await gql(gatewayURL, `{ employees(first: 100) { nodes { id reviews { id rating } } } }`);
      noErrors(body);
      const byId = new Map(body.data.employees.nodes.map((e) => [e.id, e]));
      for (const id of known) {
        assert.ok(byId.has(id), `employee ${id} is not among the first 100`);
        const expected = reviews.filter((r) => r.employeeId === id).map(({ id, rating }) => ({ id, rating }));
        assert.deepEqual(byId.get(id).reviews, expected, `reviews of employee ${id}`);
      }
      return `${known.length} employees with their reviews`;
    },
  ],
  [
    'hr -> Go: reviews from hr resolve employee name, department and timeEntries from the Working Tracker subgraph',
    async () => {
      const names = await subgraphNames();
      const body = await gql(gatewayURL, REVIEWS_WITH_EMPLOYEES);
      noErrors(body);
      const got = body.data.reviews;
      assert.equal(got.length, reviews.length, `expected ${reviews.length} reviews, got ${show(got)}`);
      const resolved = [];
      for (const [i, r] of got.entries()) {
        assert.equal(r.id, reviews[i].id);
        assert.equal(r.rating, reviews[i].rating, `rating of ${r.id}`);
        if (!known.includes(reviews[i].employeeId)) continue;
        assert.ok(r.employee, `${r.id}: employee ${reviews[i].employeeId} did not resolve: ${show(body)}`);
        assert.equal(r.employee.id, reviews[i].employeeId);
        assert.equal(r.employee.name, names.get(r.employee.id), `${r.id}: employee name`);
        assert.ok(r.employee.department === null || typeof r.employee.department.name === 'string');
        assert.ok(Array.isArray(r.employee.timeEntries) && r.employee.timeEntries.length <= 2);
        resolved.push(`${r.id} -> ${r.employee.name} (${r.employee.department?.name ?? 'no department'}, ${r.employee.timeEntries.length} entries)`);
      }
      assert.equal(resolved.length, known.length);
      return resolved.join('; ');
    },
  ],
  [
    'subgraph: _entities with an unknown id answers null for it, without an error',
    async () => {
      const reps = [known[0], ...unknown, 'not-a-uuid'].map((id) => ({ __typename: 'Employee', id }));
      const body = await gql(
        subgraphURL,
        'query($r: [_Any!]!) { _entities(representations: $r) { ... on Employee { id } } }',
        { variables: { r: reps } },
      );
      noErrors(body);
      assert.deepEqual(body.data._entities, [{ id: known[0] }, ...unknown.map(() => null), null]);
      return show(body);
    },
  ],
  [
    'hr -> Go: a review of an unknown employee has employee: null, the other reviews still resolve',
    async () => {
      assert.ok(unknown.length > 0, 'set UNKNOWN_EMPLOYEE_IDS');
      const body = await gql(gatewayURL, REVIEWS_WITH_EMPLOYEES);
      noErrors(body);
      const got = body.data.reviews;
      const out = [];
      for (const [i, r] of got.entries()) {
        const id = reviews[i].employeeId;
        if (unknown.includes(id)) {
          assert.equal(r.employee, null, `${r.id} (unknown employee ${id}): ${show(r)}`);
          out.push(`${r.id} -> null`);
        } else if (known.includes(id)) {
          assert.ok(r.employee?.name, `${r.id}: known employee ${id} did not resolve`);
        }
      }
      // The reference itself is hr's: asking for the key alone needs no other subgraph.
      const ids = await gql(gatewayURL, '{ reviews { employee { id } } }');
      noErrors(ids);
      assert.deepEqual(ids.data.reviews.map((r) => r.employee.id), reviews.map((r) => r.employeeId));
      return out.join('; ');
    },
  ],
  [
    "hr -> Go: a review of another tenant's employee has employee: null (tenant isolation through the gateway)",
    async () => {
      if (foreign.length === 0) return { skip: 'no FOREIGN_EMPLOYEE_IDS' };
      const body = await gql(gatewayURL, REVIEWS_WITH_EMPLOYEES);
      noErrors(body);
      const out = [];
      for (const [i, r] of body.data.reviews.entries()) {
        if (!foreign.includes(reviews[i].employeeId)) continue;
        assert.equal(r.employee, null, `${r.id} (employee ${reviews[i].employeeId} of another tenant) leaked: ${show(r)}`);
        out.push(`${r.id} -> null`);
      }
      assert.equal(out.length, foreign.length);
      return out.join('; ');
    },
  ],
  [
    "no token: the gateway reports the Working Tracker subgraph's UNAUTHENTICATED error",
    async () => {
      const body = await gql(gatewayURL, EMPLOYEES_WITH_HR, { auth: null });
      assert.ok(body.errors?.length, `expected errors: ${show(body)}`);
      assert.equal(body.errors[0].extensions?.code, 'UNAUTHENTICATED', show(body.errors));
      assert.match(body.errors[0].message, /bearer token/i);
      assert.equal(body.data?.employees ?? null, null, `data leaked: ${show(body.data)}`);
      return `${body.errors[0].message} (${body.errors[0].extensions.code})`;
    },
  ],
  [
    'invalid token: UNAUTHENTICATED too',
    async () => {
      const body = await gql(gatewayURL, EMPLOYEES_WITH_HR, { auth: 'Bearer not-a-token' });
      assert.equal(body.errors?.[0]?.extensions?.code, 'UNAUTHENTICATED', show(body));
      assert.equal(body.data?.employees ?? null, null, `data leaked: ${show(body.data)}`);
      return body.errors[0].message;
    },
  ],
  [
    "no token, hr -> Go: hr's reviews come back, their employees are null with UNAUTHENTICATED",
    async () => {
      const body = await gql(gatewayURL, '{ reviews { id rating employee { name } } }', { auth: null });
      assert.equal(body.errors?.[0]?.extensions?.code, 'UNAUTHENTICATED', show(body));
      assert.deepEqual(
        body.data?.reviews,
        reviews.map(({ id, rating }) => ({ id, rating, employee: null })),
        show(body.data),
      );
      return `${body.data.reviews.length} reviews, employees null`;
    },
  ],
];

let passed = 0;
let failed = 0;
let skipped = 0;
for (const [name, fn] of checks) {
  try {
    const detail = await fn();
    if (detail?.skip) {
      skipped++;
      console.log(`SKIP ${name}\n     ${detail.skip}`);
      continue;
    }
    passed++;
    console.log(`PASS ${name}${detail ? `\n     ${detail}` : ''}`);
  } catch (err) {
    failed++;
    console.log(`FAIL ${name}\n     ${err.message}`);
  }
}
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(failed ? 1 : 0);
