// An offline-first client, the way a mobile app syncs (README: "How a mobile client syncs"):
//  1. take a sync cursor, then list everything into a local store;
//  2. while offline, queue creates with ids generated on the device; replaying the queue
//     (the first answer was lost) gets the same records back, nothing twice;
//  3. on reconnect, apply `changes(since)` page by page (UPSERT = put, DELETE = drop) and
//     keep the new cursor;
//  4. edit with `expectedVersion`; a CONFLICT means someone else changed the record: take
//     theirs (or merge) and retry;
//  5. stay current with the `recordChanged` subscription resumed from the same cursor.
// Run against the server by `cargo test` (api/tests/node_clients.rs), signed in as a rep.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const url = process.env.CRM_GRAPHQL_URL ?? 'http://127.0.0.1:8000/graphql';
const email = process.env.CRM_DEMO_EMAIL ?? 'east.rep1@demo.crm';
const password = process.env.CRM_DEMO_PASSWORD ?? 'demo-password-2026';

const FIELDS = {
  company: 'id version name domain',
  contact: 'id version firstName lastName email',
  deal: 'id version title amount stage',
  activity: 'id version subject completed',
};
const LISTS = { company: 'companies', contact: 'contacts', deal: 'deals', activity: 'activities' };

async function gql(token, query, variables = {}) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return res.json();
}

async function ok(token, query, variables) {
  const body = await gql(token, query, variables);
  assert.equal(body.errors, undefined, JSON.stringify(body.errors));
  return body.data;
}

/** The local store: kind → id → record. */
function emptyStore() {
  return Object.fromEntries(Object.keys(FIELDS).map((k) => [k, new Map()]));
}

/** Lists every readable record of every kind (all pages). */
async function listAll(token) {
  const store = emptyStore();
  for (const [kind, list] of Object.entries(LISTS)) {
    let after = null;
    do {
      const data = await ok(
        token,
        `query($after: String) { ${list}(first: 100, after: $after) { pageInfo { hasNextPage endCursor } nodes { ${FIELDS[kind]} } } }`,
        { after },
      );
      for (const node of data[list].nodes) store[kind].set(node.id, node);
      after = data[list].pageInfo.hasNextPage ? data[list].pageInfo.endCursor : null;
    } while (after);
  }
  return store;
}

const CHANGE = `op kind id cursor ${Object.entries(FIELDS).map(([k, f]) => `${k} { ${f} }`).join(' ')}`;

/** Applies one change to the store. */
function apply(store, change) {
  const kind = change.kind.toLowerCase();
  if (change.op === 'UPSERT') store[kind].set(change.id, change[kind]);
  else store[kind].delete(change.id);
}

/** Catches up from `cursor`; returns the new cursor. */
async function catchUp(token, store, cursor) {
  for (;;) {
    const { changes } = await ok(
      token,
      `query($since: String!) { changes(since: $since, first: 200) { cursor hasMore changes { ${CHANGE} } } }`,
      { since: cursor },
    );
    for (const c of changes.changes) apply(store, c);
    cursor = changes.cursor;
    if (!changes.hasMore) return cursor;
  }
}

const ids = (store) => Object.fromEntries(Object.entries(store).map(([k, m]) => [k, [...m.keys()].sort()]));

test('an offline client syncs, replays queued creates, resolves a conflict and stays live', async () => {
  const { login } = await ok(null, 'mutation($e: String!, $p: String!) { login(email: $e, password: $p) { accessToken } }', {
    e: email,
    p: password,
  });
  const token = login.accessToken;

  // 1. Cursor first, then the full listing.
  let cursor = (await ok(token, '{ syncCursor }')).syncCursor;
  const store = await listAll(token);
  const company = [...store.company.keys()][0];
  assert.ok(company, 'the rep can read a company');

  // 2. Creates queued offline, with ids made on the device; the queue is replayed twice.
  const queue = [randomUUID(), randomUUID()].map((id, i) => ({
    query: 'mutation($input: CreateDealInput!) { createDeal(input: $input) { id version title } }',
    variables: { input: { id, companyId: company, title: `Offline deal ${i} ${id.slice(0, 8)}` } },
  }));
  const first = [];
  for (const op of queue) first.push((await ok(token, op.query, op.variables)).createDeal);
  for (const [i, op] of queue.entries()) {
    const again = (await ok(token, op.query, op.variables)).createDeal;
    assert.deepEqual(again, first[i], 'a replayed create returns the same record');
  }

  // 3. Back online: apply what changed (our own creates included).
  cursor = await catchUp(token, store, cursor);
  for (const d of first) assert.equal(store.deal.get(d.id).title, d.title);

  // 4. An edit from a stale copy is refused; take the server's version and retry.
  const deal = first[0];
  await ok(token, 'mutation($id: ID!) { updateDeal(id: $id, input: { title: "Changed elsewhere" }) { id } }', { id: deal.id });
  const stale = await gql(token, 'mutation($id: ID!, $v: Int!) { updateDeal(id: $id, input: { stage: QUALIFICATION, expectedVersion: $v }) { id } }', {
    id: deal.id,
    v: deal.version,
  });
  assert.equal(stale.errors[0].extensions.code, 'CONFLICT');
  cursor = await catchUp(token, store, cursor);
  const fresh = store.deal.get(deal.id);
  assert.equal(fresh.title, 'Changed elsewhere');
  await ok(token, 'mutation($id: ID!, $v: Int!) { updateDeal(id: $id, input: { stage: QUALIFICATION, expectedVersion: $v }) { id } }', {
    id: deal.id,
    v: fresh.version,
  });

  // 5. Live: resume the subscription from the cursor; the stage change arrives, then a new
  //    one made while subscribed.
  const ws = createClient({
    url: url.replace(/^http/, 'ws') + '/ws',
    webSocketImpl: WebSocket,
    connectionParams: { Authorization: `Bearer ${token}` },
  });
  const seen = [];
  let wake;
  const dispose = ws.subscribe(
    { query: `subscription($since: String) { recordChanged(kinds: [DEAL], since: $since) { ${CHANGE} } }`, variables: { since: cursor } },
    {
      next: ({ data, errors }) => {
        assert.equal(errors, undefined);
        apply(store, data.recordChanged);
        cursor = data.recordChanged.cursor;
        seen.push(data.recordChanged);
        wake?.();
      },
      error: (e) => assert.fail(String(e)),
      complete: () => {},
    },
  );
  const until = async (check) => {
    const deadline = Date.now() + 10_000;
    while (!check()) {
      assert.ok(Date.now() < deadline, 'the change arrived in time');
      await new Promise((r) => {
        wake = r;
        setTimeout(r, 200);
      });
    }
  };
  await until(() => store.deal.get(deal.id).stage === 'QUALIFICATION');
  await ok(token, 'mutation($id: ID!) { updateDeal(id: $id, input: { title: "Live title" }) { id } }', { id: deal.id });
  await until(() => store.deal.get(deal.id).title === 'Live title');
  dispose();
  await ws.dispose();

  // The store holds what a fresh listing shows.
  cursor = await catchUp(token, store, cursor);
  assert.deepEqual(ids(store), ids(await listAll(token)));
});
