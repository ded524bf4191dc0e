// Apollo Client (pagination, mutations, error codes, automatic persisted queries,
// batching) and graphql-ws (sign-in in connection_init, a query over the socket) against
// the running server, signed in as a demo sales rep.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ApolloClient, InMemoryCache, HttpLink, ApolloLink, gql } from '@apollo/client/core/index.js';
import { BatchHttpLink } from '@apollo/client/link/batch-http/index.js';
import { createPersistedQueryLink } from '@apollo/client/link/persisted-queries/index.js';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const url = process.env.CRM_GRAPHQL_URL ?? 'http://127.0.0.1:8000/graphql';
const email = process.env.CRM_DEMO_EMAIL ?? 'east.rep1@demo.crm';
const password = process.env.CRM_DEMO_PASSWORD ?? 'demo-password-2026';

let token;

const bearer = () =>
  new ApolloLink((operation, forward) => {
    operation.setContext(({ headers = {} }) => ({
      headers: { ...headers, authorization: `Bearer ${token}` },
    }));
    return forward(operation);
  });

const client = (link) =>
  new ApolloClient({ link, cache: new InMemoryCache(), defaultOptions: { query: { fetchPolicy: 'no-cache' } } });

before(async () => {
  const anonymous = client(new HttpLink({ uri: url, fetch }));
  const { data } = await anonymous.mutate({
    mutation: gql`mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken user { id team { name } } } }`,
    variables: { e: email, p: password },
  });
  token = data.login.accessToken;
  assert.ok(token);
  assert.ok(data.login.user.team.name, 'the sign-in payload resolves the team');
});

const DEALS = gql`
  query Deals($after: String) {
    deals(first: 3, after: $after, orderBy: [{ field: TITLE }]) {
      totalCount
      pageInfo { hasNextPage endCursor }
      nodes { id title amount stage }
    }
  }
`;

test('Apollo Client pages through deals with cursors', async () => {
  const apollo = client(bearer().concat(new HttpLink({ uri: url, fetch })));
  const first = await apollo.query({ query: DEALS });
  const page1 = first.data.deals;
  assert.ok(page1.totalCount > 3, 'the demo rep sees more than one page');
  assert.equal(page1.nodes.length, 3);
  const second = await apollo.query({ query: DEALS, variables: { after: page1.pageInfo.endCursor } });
  const ids = new Set(page1.nodes.map((n) => n.id));
  assert.ok(second.data.deals.nodes.every((n) => !ids.has(n.id)), 'pages do not overlap');
});

test('Apollo Client runs a mutation and reads error codes', async () => {
  const apollo = client(bearer().concat(new HttpLink({ uri: url, fetch })));
  const name = `Node client check ${Date.now()}`;
  const created = await apollo.mutate({
    mutation: gql`mutation($n: String!) { createCompany(input: { name: $n }) { id name viewerCan { update } } }`,
    variables: { n: name },
  });
  assert.equal(created.data.createCompany.name, name);
  await assert.rejects(
    apollo.mutate({
      mutation: gql`mutation { createCompany(input: { name: "" }) { id } }`,
    }),
    (err) => {
      assert.equal(err.graphQLErrors[0].extensions.code, 'BAD_USER_INPUT');
      assert.equal(err.graphQLErrors[0].extensions.field, 'name');
      return true;
    },
  );
  // A nullable field that fails is null, with its error (errorPolicy: all keeps both).
  const partial = await apollo.query({
    query: gql`{ me { id } deal(id: "not-an-id") { id } }`,
    errorPolicy: 'all',
  });
  assert.equal(partial.data.deal, null);
  assert.ok(partial.data.me.id);
  assert.equal(partial.errors[0].extensions.code, 'BAD_USER_INPUT');
});

test('Apollo automatic persisted queries: miss, register, hit', async () => {
  const sha256 = (q) => createHash('sha256').update(q).digest('hex');
  let sent = [];
  const spy = (input, init) => {
    sent.push(JSON.parse(init.body));
    return fetch(input, init);
  };
  const link = () => createPersistedQueryLink({ sha256 }).concat(new HttpLink({ uri: url, fetch: spy }));
  const query = gql`query PersistedMe { me { email } }`;
  const apollo = client(bearer().concat(link()));
  const r1 = await apollo.query({ query });
  assert.equal(r1.data.me.email, email);
  assert.equal(sent.length, 2, 'hash only, then hash with the query');
  assert.equal(sent[0].query, undefined);
  sent = [];
  const apollo2 = client(bearer().concat(link()));
  const r2 = await apollo2.query({ query });
  assert.equal(r2.data.me.email, email);
  assert.equal(sent.length, 1, 'the server knows the hash now');
});

test('Apollo BatchHttpLink sends several operations in one request', async () => {
  let requests = 0;
  const counting = (input, init) => {
    requests += 1;
    return fetch(input, init);
  };
  const apollo = client(bearer().concat(new BatchHttpLink({ uri: url, fetch: counting, batchMax: 5, batchInterval: 20 })));
  const [a, b] = await Promise.all([
    apollo.query({ query: gql`query A { me { email } }` }),
    apollo.query({ query: gql`query B { deals(first: 1) { totalCount } }` }),
  ]);
  assert.equal(a.data.me.email, email);
  assert.ok(b.data.deals.totalCount > 0);
  assert.equal(requests, 1);
});

test('graphql-ws signs in with connection_init and runs a query', async () => {
  const wsUrl = url.replace(/^http/, 'ws') + '/ws';
  const ws = createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: { Authorization: `Bearer ${token}` },
    retryAttempts: 0,
  });
  try {
    const result = await new Promise((resolve, reject) => {
      let value;
      ws.subscribe(
        { query: '{ me { email role } }' },
        { next: (v) => (value = v), error: reject, complete: () => resolve(value) },
      );
    });
    assert.equal(result.data.me.email, email);
    assert.equal(result.data.me.role, 'SALES_REP');
  } finally {
    await ws.dispose();
  }
});

test('graphql-ws with a forged token is closed with 4403', async () => {
  const wsUrl = url.replace(/^http/, 'ws') + '/ws';
  const ws = createClient({
    url: wsUrl,
    webSocketImpl: WebSocket,
    connectionParams: { Authorization: 'Bearer forged.token.value' },
    retryAttempts: 0,
  });
  const code = await new Promise((resolve) => {
    ws.on('closed', (event) => resolve(event.code));
    ws.subscribe({ query: '{ __typename }' }, { next() {}, error() {}, complete() {} });
  });
  await ws.dispose();
  assert.equal(code, 4403);
});
