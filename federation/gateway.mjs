// An Apollo Federation gateway over the Working Tracker subgraph (the Go server) and the hr
// subgraph (hr-subgraph.mjs).
//
// At start it fetches each subgraph's SDL ({ _service { sdl } }, with a bearer token: the Working
// Tracker subgraph answers nothing without one), composes the supergraph with
// @apollo/composition, and exits non-zero printing the composition errors if it does not
// compose. Hints are printed too. Then it serves the supergraph; every subgraph request carries
// the incoming request's Authorization header, so each subgraph authenticates the caller itself.
//
// Environment:
//   GATEWAY_PORT          port to listen on (required; on GATEWAY_HOST, default 127.0.0.1)
//   WT_SUBGRAPH_URL       the Working Tracker subgraph, e.g. http://127.0.0.1:8080/query
//   HR_SUBGRAPH_URL       the hr subgraph, e.g. http://127.0.0.1:4002/
//   SUBGRAPH_SDL_TOKEN    bearer token used only to fetch the SDL at start
//   SUPERGRAPH_OUT        optional file to write the composed supergraph SDL to
//   SDL_WAIT_SECONDS      how long to retry fetching an SDL while a subgraph starts (default 30)
//
// @apollo/gateway collects usage metrics for Apollo unless APOLLO_TELEMETRY_DISABLED is set: it
// probes cloud metadata endpoints (169.254.169.254 and the like) at start and exports to Apollo
// hourly. This gateway turns that off unless APOLLO_TELEMETRY_DISABLED is set otherwise.
import { writeFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';

import { composeServices } from '@apollo/composition';
import { ApolloGateway, RemoteGraphQLDataSource } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { GraphQLError, parse } from 'graphql';

function required(name) {
  const v = process.env[name];
  if (!v) {
    console.error(`gateway: set ${name}`);
    process.exit(2);
  }
  return v;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// fetchSDL asks a subgraph for its SDL, retrying connection failures until the deadline; an
// answer with errors (such as a refused token) fails at once.
export async function fetchSDL(name, url, token, waitSeconds = 30) {
  const deadline = Date.now() + waitSeconds * 1000;
  const headers = { 'content-type': 'application/json' };
  if (token) headers.authorization = `Bearer ${token}`;
  for (;;) {
    let res;
    try {
      res = await fetch(url, {
        method: 'POST',
        headers,
        body: JSON.stringify({ query: '{ _service { sdl } }' }),
        signal: AbortSignal.timeout(10_000),
      });
    } catch (err) {
      if (Date.now() < deadline) {
        await sleep(500);
        continue;
      }
      throw new Error(`subgraph ${name}: fetching the SDL from ${url} failed: ${err.cause?.message ?? err.message}`);
    }
    const text = await res.text();
    let body;
    try {
      body = JSON.parse(text);
    } catch {
      throw new Error(`subgraph ${name}: ${url} answered HTTP ${res.status} with non-JSON: ${text.slice(0, 300)}`);
    }
    const sdl = body?.data?._service?.sdl;
    if (!res.ok || body.errors?.length || typeof sdl !== 'string') {
      throw new Error(`subgraph ${name}: ${url} answered HTTP ${res.status} without an SDL: ${JSON.stringify(body).slice(0, 500)}`);
    }
    return sdl;
  }
}

// compose builds the supergraph SDL from [{ name, url, sdl }], or throws with every error.
export function compose(subgraphs) {
  const result = composeServices(subgraphs.map(({ name, url, sdl }) => ({ name, url, typeDefs: parse(sdl) })));
  for (const hint of result.hints ?? []) {
    console.error(`composition hint [${hint.definition.code}]: ${hint.message}`);
  }
  if (result.errors?.length) {
    const lines = result.errors.map((e) => `  [${e.extensions?.code ?? 'ERROR'}] ${e.message}`);
    throw new Error(`the subgraphs do not compose (${result.errors.length} errors):\n${lines.join('\n')}`);
  }
  return result.supergraphSdl;
}

// AuthForwardingDataSource forwards the caller's Authorization header to the subgraph, and
// reports a subgraph's HTTP error (such as the Working Tracker's 401 for a missing token) with
// the subgraph's own GraphQL error message and code rather than just "401: Unauthorized", and
// without the subgraph's URL and raw response body that the default error carries.
export class AuthForwardingDataSource extends RemoteGraphQLDataSource {
  constructor({ name, url }) {
    super({ url });
    this.name = name;
  }

  willSendRequest({ request, context }) {
    if (context?.authorization) {
      request.http.headers.set('authorization', context.authorization);
    }
  }

  async errorFromResponse(response) {
    const error = await super.errorFromResponse(response);
    const { response: res, ...extensions } = error.extensions ?? {};
    const first = res?.body?.errors?.[0];
    return new GraphQLError(first?.message ? String(first.message) : error.message, {
      extensions: { ...extensions, ...(first?.extensions ?? {}), subgraph: this.name, status: res?.status },
    });
  }
}

async function main() {
  const port = Number(required('GATEWAY_PORT'));
  const host = process.env.GATEWAY_HOST || '127.0.0.1';
  const token = required('SUBGRAPH_SDL_TOKEN');
  const waitSeconds = Number(process.env.SDL_WAIT_SECONDS || 30);
  const subgraphs = [
    { name: 'workingtracker', url: required('WT_SUBGRAPH_URL') },
    { name: 'hr', url: required('HR_SUBGRAPH_URL') },
  ];
  for (const s of subgraphs) {
    s.sdl = await fetchSDL(s.name, s.url, token, waitSeconds);
  }
  const supergraphSdl = compose(subgraphs);
  if (process.env.SUPERGRAPH_OUT) {
    writeFileSync(process.env.SUPERGRAPH_OUT, supergraphSdl);
  }

  process.env.APOLLO_TELEMETRY_DISABLED ??= 'true';
  const gateway = new ApolloGateway({
    supergraphSdl,
    buildService: ({ name, url }) => new AuthForwardingDataSource({ name, url }),
  });
  const server = new ApolloServer({ gateway, includeStacktraceInErrorResponses: false });
  const { url } = await startStandaloneServer(server, {
    listen: { host, port },
    context: async ({ req }) => ({ authorization: req.headers.authorization }),
  });
  console.log(`gateway: composed ${subgraphs.map((s) => s.name).join(' + ')}, listening on ${url}`);
  const stop = async () => {
    await server.stop();
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((err) => {
    console.error('gateway:', err.message ?? err);
    process.exit(1);
  });
}
