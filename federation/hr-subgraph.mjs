// The "hr" subgraph: a second Apollo Federation v2 subgraph that the gateway composes with the
// Working Tracker subgraph (the Go server), to check cross-subgraph queries in both directions.
//
//   Working Tracker -> hr: it extends the Go subgraph's Employee entity with vacationDaysLeft,
//     badges and reviews, computed deterministically from the employee id (hrProfile below).
//   hr -> Working Tracker: it owns the Review entity, whose employee field references Employees
//     by id only; the gateway resolves their name, department, time entries... from the Go
//     subgraph through _entities.
//
// Demo data only: reviews are made up from HR_EMPLOYEE_IDS, and this subgraph does not check the
// caller's token.
//
// Environment:
//   HR_PORT           port to listen on (required; it listens on HR_HOST, default 127.0.0.1)
//   HR_EMPLOYEE_IDS   comma-separated employee ids; review N (id "review-N") is about the Nth id
//
// Run: HR_PORT=4002 HR_EMPLOYEE_IDS=<id>,<id> node hr-subgraph.mjs
import { createHash } from 'node:crypto';
import { pathToFileURL } from 'node:url';

import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import { startStandaloneServer } from '@apollo/server/standalone';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { parse } from 'graphql';

export const typeDefs = parse(/* GraphQL */ `
  extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])

  "An employee of the Working Tracker subgraph, extended with what HR knows about them."
  type Employee @key(fields: "id") {
    id: ID!
    "Paid vacation days left this year."
    vacationDaysLeft: Int!
    "Badges the employee earned, in a fixed order; may be empty."
    badges: [String!]!
    "Performance reviews of the employee."
    reviews: [Review!]!
  }

  type Review @key(fields: "id") {
    id: ID!
    "1 (poor) to 5 (excellent)."
    rating: Int!
    comment: String!
    """
    The reviewed employee, resolved by the Working Tracker subgraph; null when that subgraph has
    no such employee (deleted, or of another tenant than the caller's).
    """
    employee: Employee
  }

  type Query {
    "Every review, in id order."
    reviews: [Review!]!
    review(id: ID!): Review
  }
`);

export const BADGES = ['mentor', 'first-aider', 'on-call', 'speaker', 'hackathon', 'safety-champion'];
const COMMENTS = ['Needs support', 'Below expectations', 'Solid work', 'Strong contributor', 'Outstanding'];

function digest(s) {
  return createHash('sha256').update(String(s)).digest();
}

// hrProfile is what this subgraph knows about an employee: a pure function of the id, so the
// check can compute the expected values itself.
export function hrProfile(id) {
  const d = digest(id);
  return {
    vacationDaysLeft: d[0] % 31,
    badges: BADGES.filter((_, i) => (d[1] >> i) & 1),
  };
}

// makeReviews builds one review per employee id, in order: review-1 is about ids[0], and so on.
export function makeReviews(ids) {
  return ids.map((employeeId, i) => {
    const rating = 1 + (digest(`review:${employeeId}`)[0] % 5);
    return { id: `review-${i + 1}`, rating, comment: COMMENTS[rating - 1], employeeId };
  });
}

export function parseIds(list) {
  return String(list ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

export function buildSchema(employeeIds) {
  const reviews = makeReviews(employeeIds);
  const byId = new Map(reviews.map((r) => [r.id, r]));
  const employee = (id) => ({ __typename: 'Employee', id });
  const resolvers = {
    Query: {
      reviews: () => reviews,
      review: (_, { id }) => byId.get(id) ?? null,
    },
    Review: {
      __resolveReference: ({ id }) => byId.get(id) ?? null,
      // Only the key: the gateway asks the Working Tracker subgraph for everything else.
      employee: (r) => employee(r.employeeId),
    },
    Employee: {
      // Any id is an employee here: the Working Tracker subgraph decides which exist.
      __resolveReference: ({ id }) => ({ id }),
      vacationDaysLeft: ({ id }) => hrProfile(id).vacationDaysLeft,
      badges: ({ id }) => hrProfile(id).badges,
      reviews: ({ id }) => reviews.filter((r) => r.employeeId === id),
    },
  };
  return buildSubgraphSchema([{ typeDefs, resolvers }]);
}

async function main() {
  const port = Number(process.env.HR_PORT);
  if (!Number.isInteger(port) || port <= 0) {
    console.error('hr-subgraph: set HR_PORT to the port to listen on');
    process.exit(2);
  }
  const host = process.env.HR_HOST || '127.0.0.1';
  const ids = parseIds(process.env.HR_EMPLOYEE_IDS);
  const server = new ApolloServer({
    schema: buildSchema(ids),
    includeStacktraceInErrorResponses: false,
    plugins: [ApolloServerPluginInlineTraceDisabled()],
  });
  const { url } = await startStandaloneServer(server, { listen: { host, port } });
  console.log(`hr subgraph: ${ids.length} reviews, listening on ${url}`);
  const stop = async () => {
    await server.stop();
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    console.error('hr-subgraph:', err);
    process.exit(1);
  });
}
