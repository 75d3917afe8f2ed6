/** The OpenAPI 3 description of the admin API, served at GET /api/docs. Built from the same schemas the routes use. */
import {
  accountView,
  accountWithPassword,
  addressParams,
  aorParams,
  bindingView,
  blacklistView,
  createAccountBody,
  credentialsBody,
  errorView,
  listQuery,
  passwordBody,
  patchAccountBody,
} from './schemas.js';

type Schema = Record<string, unknown>;

const json = (schema: Schema): Schema => ({ content: { 'application/json': { schema } } });
const ok = (description: string, schema?: Schema): Schema =>
  schema === undefined ? { description } : { description, ...json(schema) };
const err = (description: string): Schema => ({ description, ...json(errorView) });

const pathParams = (schema: { properties: Record<string, Schema> }): Schema[] =>
  Object.entries(schema.properties).map(([name, s]) => ({ name, in: 'path', required: true, schema: s }));

const common = { '401': err('missing or wrong bearer token'), '400': err('bad input; the message names the field') };
const withAor = { parameters: pathParams(aorParams) };

export function openApiDocument(): Schema {
  return {
    openapi: '3.0.3',
    info: {
      title: 'sipreg admin API',
      version: '1',
      description:
        'Accounts, bindings and lockouts of the sipreg SIP registrar. Every /api/v1 request needs ' +
        '`Authorization: Bearer <ADMIN_TOKEN>`. `{aor}` is `user@domain` (URL-encoded) or a bare `user` in the default ' +
        'domain. Errors are `{"error": "..."}`. No response ever contains an HA1; a generated password appears once.',
    },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
    security: [{ bearer: [] }],
    paths: {
      '/api/v1/accounts': {
        post: {
          summary: 'Create an account',
          requestBody: { required: true, ...json(createAccountBody) },
          responses: { '201': ok('created', accountWithPassword), '409': err('exists already'), ...common },
        },
        get: {
          summary: 'List accounts, ordered by AOR',
          parameters: Object.entries(listQuery.properties).map(([name, s]) => ({ name, in: 'query', schema: s })),
          responses: {
            '200': ok('a page', {
              type: 'object',
              properties: { items: { type: 'array', items: accountView }, nextCursor: { type: ['string', 'null'] } },
            }),
            ...common,
          },
        },
      },
      '/api/v1/accounts/import': {
        post: {
          summary: 'Bulk create: one create request per NDJSON line (or a JSON array)',
          requestBody: {
            required: true,
            content: {
              'application/x-ndjson': { schema: { type: 'string' } },
              'application/json': { schema: { type: 'array', items: createAccountBody } },
            },
          },
          responses: {
            '200': ok('per-line outcome', {
              type: 'object',
              properties: {
                created: { type: 'integer' },
                errors: {
                  type: 'array',
                  items: { type: 'object', properties: { line: { type: 'integer' }, error: { type: 'string' } } },
                },
                passwords: {
                  type: 'array',
                  description: 'generated passwords, shown in this response only',
                  items: {
                    type: 'object',
                    properties: { line: { type: 'integer' }, aor: { type: 'string' }, password: { type: 'string' } },
                  },
                },
              },
            }),
            ...common,
          },
        },
      },
      '/api/v1/accounts/{aor}': {
        ...withAor,
        get: {
          summary: 'Show an account (never its secret)',
          responses: { '200': ok('the account', accountView), '404': err('no such account'), ...common },
        },
        patch: {
          summary: 'Change enabled, allowedAddresses, maxContacts or algorithms (disabling removes the bindings)',
          requestBody: { required: true, ...json(patchAccountBody) },
          responses: { '200': ok('the account', accountView), '404': err('no such account'), ...common },
        },
        delete: {
          summary: 'Delete the account and its bindings',
          responses: { '204': ok('deleted'), '404': err('no such account'), ...common },
        },
      },
      '/api/v1/accounts/{aor}/password': {
        ...withAor,
        put: {
          summary: 'Set the password, or generate one (returned once); removes every binding',
          requestBody: { required: false, ...json(passwordBody) },
          responses: { '200': ok('changed', accountWithPassword), '404': err('no such account'), ...common },
        },
      },
      '/api/v1/accounts/{aor}/credentials': {
        ...withAor,
        post: {
          summary:
            'Mint short-lived digest credentials for a browser softphone: username "<expiry>:<authId>", password base64(HMAC-SHA1(secret, username))',
          requestBody: { required: false, ...json(credentialsBody) },
          responses: {
            '201': ok('credentials', {
              type: 'object',
              properties: {
                username: { type: 'string' },
                password: { type: 'string' },
                expiresAt: { type: 'string', format: 'date-time' },
              },
            }),
            '404': err('no such account'),
            ...common,
          },
        },
      },
      '/api/v1/accounts/{aor}/credential-secret': {
        ...withAor,
        post: {
          summary: 'Rotate the secret short-lived credentials are derived from; returned once',
          responses: {
            '200': ok('the new secret', {
              type: 'object',
              properties: { aor: { type: 'string' }, secret: { type: 'string' } },
            }),
            '404': err('no such account'),
            ...common,
          },
        },
      },
      '/api/v1/accounts/{aor}/bindings': {
        ...withAor,
        get: {
          summary: 'Current bindings',
          responses: {
            '200': ok('bindings', {
              type: 'object',
              properties: { aor: { type: 'string' }, bindings: { type: 'array', items: bindingView } },
            }),
            '404': err('no such account'),
            ...common,
          },
        },
        delete: {
          summary: 'Remove every binding',
          responses: {
            '200': ok('removed', {
              type: 'object',
              properties: { aor: { type: 'string' }, removed: { type: 'integer' } },
            }),
            '404': err('no such account'),
            ...common,
          },
        },
      },
      '/api/v1/blacklist': {
        get: { summary: 'Current lockouts', responses: { '200': ok('lockouts', blacklistView), ...common } },
        delete: {
          summary: 'Lift every lockout',
          responses: {
            '200': ok('lifted', { type: 'object', properties: { lifted: { type: 'integer' } } }),
            ...common,
          },
        },
      },
      '/api/v1/blacklist/extensions/{aor}': {
        ...withAor,
        delete: {
          summary: 'Lift an extension lockout and reset its counter',
          responses: { '204': ok('lifted'), '404': err('not locked'), ...common },
        },
      },
      '/api/v1/blacklist/addresses/{address}': {
        parameters: pathParams(addressParams),
        delete: {
          summary: 'Lift an address lockout and reset its counter',
          responses: { '204': ok('lifted'), '404': err('not locked'), ...common },
        },
      },
      '/api/v1/nonce-keys/rotate': {
        post: {
          summary: 'Replace the nonce secret kept in the store; the old one verifies for one nonce lifetime',
          responses: {
            '200': ok('rotated', { type: 'object', properties: { rotatedAt: { type: 'integer' } } }),
            '409': err('the secret is configured (NONCE_SECRET)'),
            ...common,
          },
        },
      },
      '/metrics': {
        get: { summary: 'Prometheus metrics', security: [], responses: { '200': ok('text exposition format') } },
      },
      '/healthz': {
        get: {
          summary: 'SIP listeners up and store answering',
          security: [],
          responses: { '200': ok('healthy'), '503': ok('unhealthy') },
        },
      },
      '/readyz': {
        get: {
          summary: 'Ready to take traffic',
          security: [],
          responses: { '200': ok('ready'), '503': ok('not ready') },
        },
      },
      '/api/docs': { get: { summary: 'This document', security: [], responses: { '200': ok('OpenAPI 3 document') } } },
    },
  };
}
