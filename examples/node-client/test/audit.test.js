// The graphql-http conformance audit (its serverAudits) against the running server.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { serverAudits } from 'graphql-http';

const url = process.env.CRM_GRAPHQL_URL ?? 'http://127.0.0.1:8000/graphql';

test('the GraphQL over HTTP audit has no errors and no warnings', async () => {
  const results = [];
  for (const audit of serverAudits({ url, fetchFn: fetch })) {
    results.push(await audit.fn());
  }
  const line = (r) => `${r.status}: ${r.name}: ${r.reason ?? ''}`;
  // Notices are the spec's MAYs; warnings (SHOULD) and errors (MUST) fail.
  for (const r of results.filter((r) => r.status === 'notice')) console.log(line(r));
  const problems = results.filter((r) => r.status === 'warn' || r.status === 'error').map(line);
  console.log(`audit: ${results.length} checks, ${problems.length} warnings or errors`);
  assert.deepEqual(problems, []);
});
