// graphql-codegen for TypeScript clients: types for the schema and for the operations in
// ../graphql, with the API's custom scalars mapped to what the JSON carries.
// Run: npx graphql-codegen --config codegen.ts   (writes generated/graphql.ts)
import type { CodegenConfig } from '@graphql-codegen/cli';

const config: CodegenConfig = {
  schema: '../../schema.graphql',
  documents: ['../graphql/*.graphql'],
  generates: {
    'generated/graphql.ts': {
      plugins: ['typescript', 'typescript-operations'],
      config: {
        // Decimal: exact money as a string ("1234.50"); Date: "YYYY-MM-DD";
        // DateTime: RFC 3339 in UTC. Parse them with a decimal or date library, never
        // with parseFloat. JSON: an audit change's before/after value (a string, number,
        // boolean or object), narrowed by the field it belongs to. Upload: a file sent in a
        // GraphQL multipart request (a Blob or File in a browser; null in the JSON part).
        scalars: {
          ID: { input: 'string', output: 'string' },
          Decimal: { input: 'string', output: 'string' },
          Date: { input: 'string', output: 'string' },
          DateTime: { input: 'string', output: 'string' },
          JSON: { input: 'unknown', output: 'unknown' },
          Upload: { input: 'Blob', output: 'never' },
        },
        strictScalars: true,
        enumsAsTypes: true,
      },
    },
  },
};

export default config;
