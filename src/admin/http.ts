/**
 * The admin HTTP API (fastify): accounts, bindings, lockouts, plus /metrics, /healthz, /readyz and /api/docs.
 *
 * fastify's own logger (and so its request logging) is off so no header (the bearer token) ever reaches a log line; errors are logged here
 * with the route and status only. Bodies are validated by JSON schema (unknown fields refused) and again by the services.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import { parseAccountInput, parsePatch, type AccountService } from '../registrar/accounts.js';
import { OperatorError, type OperatorErrorKind } from '../registrar/errors.js';
import type { LockoutService } from '../registrar/lockouts.js';
import type { NonceKeyService } from '../registrar/nonce-keys.js';
import { openApiDocument } from './openapi.js';
import { registerConsole } from './console/routes.js';
import {
  addressParams,
  aorParams,
  credentialsBody,
  emptyQuery,
  importJsonBody,
  listQuery,
  passwordBody,
} from './schemas.js';
import { accountJson, auditJson, bindingJson, type FlowLiveness } from './views.js';
import type { AuditEntry } from '../domain/types.js';
import type { Page } from '../store/types.js';

export interface AdminServerDeps {
  accounts: AccountService;
  lockouts: LockoutService;
  nonceKeys: Pick<NonceKeyService, 'configured' | 'rotate'>;
  audit: { list(limit: number, cursor: string | null): Promise<Page<AuditEntry>> };
  /** The console's session cookie gets the Secure flag (the admin server is reached over TLS). */
  secureCookie?: boolean;
  /** Whether a binding's connection is open here (absent: unknown). */
  flowLive?: FlowLiveness;
  token: string;
  metrics: () => Promise<{ contentType: string; body: string }>;
  health: () => Promise<{ ok: boolean; detail: Record<string, unknown> }>;
  ready?: () => Promise<boolean>;
  logger: Logger;
}

export const IMPORT_BODY_LIMIT = 50 * 1024 * 1024;
const PUBLIC_ROUTES = new Set(['/metrics', '/healthz', '/readyz', '/api/docs']);

/** The operator side's refusals as HTTP statuses: mapped here, at the edge, not thrown as statuses. */
const HTTP_STATUS: Record<OperatorErrorKind, number> = { invalid: 400, 'not-found': 404, exists: 409 };

const sha256 = (text: string): Buffer => createHash('sha256').update(text, 'utf8').digest();

/** Who acts, for the audit trail: the bearer token's holder, through the CLI or the API directly. */
const actor = (request: FastifyRequest): string =>
  String(request.headers['user-agent'] ?? '').startsWith('sipreg-cli') ? 'cli' : 'api';

interface ValidationIssue {
  keyword: string;
  instancePath: string;
  params: Record<string, unknown>;
  message?: string;
}

/** One line naming the field: `body.maxContacts: must be integer`, `body.colour: unknown field`. */
export function validationMessage(context: string, issue: ValidationIssue | undefined): string {
  if (issue === undefined) return `${context}: invalid`;
  const path = issue.instancePath.split('/').filter(Boolean).join('.');
  const at = path === '' ? context : `${context}.${path}`;
  if (issue.keyword === 'additionalProperties')
    return `${at}.${String(issue.params.additionalProperty)}: unknown field`;
  if (issue.keyword === 'required') return `${at}.${String(issue.params.missingProperty)}: is required`;
  if (issue.keyword === 'enum' && Array.isArray(issue.params.allowedValues)) {
    return `${at}: must be one of ${issue.params.allowedValues.map(String).join(', ')}`;
  }
  return `${at}: ${issue.message ?? 'invalid'}`;
}

export async function buildAdminServer(deps: AdminServerDeps): Promise<FastifyInstance> {
  if (deps.token === '') throw new Error('the admin token must not be empty');
  const expected = sha256(deps.token);
  const { accounts, lockouts, logger } = deps;

  const app = Fastify({
    logger: false,
    // Strict validation: no silent removal of unknown fields and no type coercion (a string is not a number).
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false, allErrors: false } },
  });

  // Bulk import: NDJSON kept as text, split into lines by the service.
  app.addContentTypeParser(
    'application/x-ndjson',
    { parseAs: 'string', bodyLimit: IMPORT_BODY_LIMIT },
    (_req, body, done) => done(null, body),
  );

  app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
    const route = request.routeOptions.url;
    if (route !== undefined && PUBLIC_ROUTES.has(route)) return;
    // The console authenticates by its own session cookie (./console/routes.ts), never by the bearer token.
    if (route !== undefined && route.startsWith('/console')) return;
    if (route === undefined && !request.url.startsWith('/api/')) return;
    const header = request.headers.authorization;
    const match = typeof header === 'string' ? /^Bearer +(\S+) *$/i.exec(header) : null;
    // Hash both sides so timingSafeEqual compares equal lengths and the token length does not leak either.
    if (match === null || !timingSafeEqual(sha256(match[1] as string), expected)) {
      return reply
        .code(401)
        .header('www-authenticate', 'Bearer realm="sipreg"')
        .send({ error: match === null ? 'missing bearer token' : 'wrong bearer token' });
    }
  });

  app.addHook('onResponse', async (request, reply) => {
    logger.debug(
      {
        method: request.method,
        route: request.routeOptions.url ?? null,
        status: reply.statusCode,
        ms: Math.round(reply.elapsedTime),
      },
      'admin request',
    );
  });

  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send({ error: `no route ${request.method} ${request.url.split('?')[0]}` });
  });

  app.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof OperatorError) return reply.code(HTTP_STATUS[error.kind]).send({ error: error.message });
    if (error.validation !== undefined) {
      const context = error.validationContext ?? 'request';
      return reply
        .code(400)
        .send({ error: validationMessage(context, error.validation[0] as ValidationIssue | undefined) });
    }
    const status = error.statusCode ?? 500;
    if (status === 415) {
      return reply
        .code(415)
        .send({ error: 'unsupported content-type: send application/json (imports: application/x-ndjson)' });
    }
    if (status >= 400 && status < 500) return reply.code(status).send({ error: error.message });
    logger.error({ err: error, method: request.method, route: request.routeOptions.url ?? null }, 'admin API error');
    return reply.code(500).send({ error: 'internal error' });
  });

  // ---- public ----
  app.get('/metrics', async (_request, reply) => {
    const { contentType, body } = await deps.metrics();
    return reply.type(contentType).send(body);
  });

  app.get('/healthz', async (_request, reply) => {
    const health = await deps.health().catch((err: unknown) => ({ ok: false, detail: { error: String(err) } }));
    return reply.code(health.ok ? 200 : 503).send({ ok: health.ok, ...health.detail });
  });

  app.get('/readyz', async (_request, reply) => {
    const ready = deps.ready
      ? await deps.ready().catch(() => false)
      : (await deps.health().catch(() => ({ ok: false }))).ok;
    return reply.code(ready ? 200 : 503).send({ ready });
  });

  app.get('/api/docs', async () => openApiDocument());

  // ---- accounts ----
  type AorParams = { Params: { aor: string } };

  // Account bodies are validated once, by parseAccountInput / parsePatch: the same schema (domain/account-input.ts)
  // every way in uses. Fastify is not given it as well, which would check each body twice with two engines; the
  // OpenAPI document still shows it.
  app.post<{ Body: unknown }>('/api/v1/accounts', { schema: { querystring: emptyQuery } }, async (request, reply) => {
    const { account, generatedPassword } = await accounts.as(actor(request)).create(parseAccountInput(request.body));
    const body =
      generatedPassword === undefined
        ? { account: accountJson(account) }
        : { account: accountJson(account), password: generatedPassword };
    return reply
      .code(201)
      .header('location', `/api/v1/accounts/${encodeURIComponent(account.aor)}`)
      .send(body);
  });

  app.post<{ Body: string | unknown[] }>(
    '/api/v1/accounts/import',
    {
      bodyLimit: IMPORT_BODY_LIMIT,
      schema: {
        querystring: emptyQuery,
        body: {
          content: {
            'application/x-ndjson': { schema: { type: 'string' } },
            'application/json': { schema: importJsonBody },
          },
        },
      },
    },
    async (request) => accounts.as(actor(request)).import(request.body),
  );

  app.get<{ Querystring: { limit?: string; cursor?: string } }>(
    '/api/v1/accounts',
    { schema: { querystring: listQuery } },
    async (request) => {
      const limit = request.query.limit === undefined ? 100 : Number(request.query.limit);
      const page = await accounts.list(limit, request.query.cursor ?? null);
      return { items: page.items.map(accountJson), nextCursor: page.nextCursor };
    },
  );

  app.get<AorParams>(
    '/api/v1/accounts/:aor',
    { schema: { params: aorParams, querystring: emptyQuery } },
    async (request) => accountJson(await accounts.get(request.params.aor)),
  );

  app.patch<AorParams & { Body: unknown }>(
    '/api/v1/accounts/:aor',
    { schema: { params: aorParams, querystring: emptyQuery } },
    async (request) =>
      accountJson(await accounts.as(actor(request)).update(request.params.aor, parsePatch(request.body))),
  );

  app.put<AorParams & { Body: { password?: string } | undefined }>(
    '/api/v1/accounts/:aor/password',
    {
      schema: { params: aorParams, body: passwordBody, querystring: emptyQuery },
      // No body at all means "generate one", like an empty object.
      preValidation: async (request) => {
        if (request.body === undefined || request.body === null) request.body = {};
      },
    },
    async (request) => {
      const { account, generatedPassword } = await accounts
        .as(actor(request))
        .setPassword(request.params.aor, request.body?.password);
      return generatedPassword === undefined
        ? { account: accountJson(account) }
        : { account: accountJson(account), password: generatedPassword };
    },
  );

  app.delete<AorParams>(
    '/api/v1/accounts/:aor',
    { schema: { params: aorParams, querystring: emptyQuery } },
    async (request, reply) => {
      await accounts.as(actor(request)).remove(request.params.aor);
      return reply.code(204).send();
    },
  );

  app.get<AorParams>(
    '/api/v1/accounts/:aor/bindings',
    { schema: { params: aorParams, querystring: emptyQuery } },
    async (request) => {
      const now = Date.now();
      const { aor, bindings } = await accounts.bindings(request.params.aor, now);
      return { aor, bindings: bindings.map((b) => bindingJson(b, now, deps.flowLive)) };
    },
  );

  app.delete<AorParams>(
    '/api/v1/accounts/:aor/bindings',
    { schema: { params: aorParams, querystring: emptyQuery } },
    async (request) => accounts.as(actor(request)).clearBindings(request.params.aor),
  );

  // ---- short-lived credentials for browser softphones ----
  app.post<AorParams & { Body: { ttlSec?: number } | undefined }>(
    '/api/v1/accounts/:aor/credentials',
    {
      schema: { params: aorParams, body: credentialsBody, querystring: emptyQuery },
      preValidation: async (request) => {
        if (request.body === undefined || request.body === null) request.body = {};
      },
    },
    async (request, reply) => {
      const c = await accounts.as(actor(request)).mintCredentials(request.params.aor, request.body?.ttlSec);
      return reply.code(201).send({ ...c, expiresAt: new Date(c.expiresAt).toISOString() });
    },
  );

  app.post<AorParams>(
    '/api/v1/accounts/:aor/credential-secret',
    { schema: { params: aorParams, querystring: emptyQuery } },
    async (request) => accounts.as(actor(request)).rotateCredentialSecret(request.params.aor),
  );

  // ---- lockouts ----
  app.get('/api/v1/blacklist', { schema: { querystring: emptyQuery } }, async () => lockouts.list());

  app.delete('/api/v1/blacklist', { schema: { querystring: emptyQuery } }, async (request) =>
    lockouts.as(actor(request)).liftAll(),
  );

  app.delete<AorParams>(
    '/api/v1/blacklist/extensions/:aor',
    { schema: { params: aorParams, querystring: emptyQuery } },
    async (request, reply) => {
      await lockouts.as(actor(request)).liftExtension(request.params.aor);
      return reply.code(204).send();
    },
  );

  app.delete<{ Params: { address: string } }>(
    '/api/v1/blacklist/addresses/:address',
    { schema: { params: addressParams, querystring: emptyQuery } },
    async (request, reply) => {
      await lockouts.as(actor(request)).liftAddress(request.params.address);
      return reply.code(204).send();
    },
  );

  // ---- audit trail ----
  app.get<{ Querystring: { limit?: string; cursor?: string } }>(
    '/api/v1/audit',
    { schema: { querystring: listQuery } },
    async (request) => {
      const limit = Math.min(1000, Math.max(1, request.query.limit === undefined ? 100 : Number(request.query.limit)));
      const page = await deps.audit.list(limit, request.query.cursor ?? null);
      return { entries: page.items.map(auditJson), nextCursor: page.nextCursor };
    },
  );

  // ---- nonce secret ----
  app.post('/api/v1/nonce-keys/rotate', { schema: { querystring: emptyQuery } }, async (_request, reply) => {
    if (deps.nonceKeys.configured) {
      return reply.code(409).send({ error: 'the nonce secret is configured (NONCE_SECRET): rotate it there' });
    }
    return deps.nonceKeys.rotate(Date.now());
  });

  await registerConsole(app, {
    accounts,
    lockouts,
    audit: deps.audit,
    flowLive: deps.flowLive,
    tokenHash: expected,
    secureCookie: deps.secureCookie ?? false,
  });

  return app;
}
