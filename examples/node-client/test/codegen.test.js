// graphql-codegen with the shipped config: every custom scalar is mapped (strictScalars
// fails on an unmapped one) and the example operations type-check against the schema.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

test('codegen maps Decimal, Date and DateTime to strings', () => {
  execFileSync(join(root, 'node_modules/.bin/graphql-codegen'), ['--config', 'codegen.ts'], {
    cwd: root,
    stdio: 'pipe',
  });
  const out = readFileSync(join(root, 'generated/graphql.ts'), 'utf8');
  for (const scalar of ['Decimal', 'Date', 'DateTime']) {
    assert.match(out, new RegExp(`${scalar}: \\{ input: string; output: string; \\}`));
  }
  assert.doesNotMatch(out, /: \{ input: any; output: any; \}/);
  assert.match(out, /export type DealsListQuery = /);
});
