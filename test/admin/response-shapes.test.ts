/**
 * What the admin API sends is what its OpenAPI document says: real responses of a running admin server, checked
 * against the response schemas (src/admin/schemas.ts) that also give src/admin/views.ts its types. A field added to
 * a view but not to its schema, or the other way round, fails here.
 */
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { FormatRegistry, Type, type TSchema } from '@sinclair/typebox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accountView, accountWithPassword, bindingView } from '../../src/admin/schemas.js';
import { MemoryStore } from '../../src/store/memory.js';
import { call, seedBinding, startAdmin, type AdminFixture } from './fixture.js';

// What OpenAPI's date-time means: an ISO-8601 UTC instant as Date#toISOString writes it.
FormatRegistry.Set(
  'date-time',
  (s) => /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/.test(s) && !Number.isNaN(Date.parse(s)),
);

/** The schema, closed: an undocumented field in a response is a failure too. */
function closed(schema: TSchema): TSchema {
  const s = schema as TSchema & { properties?: Record<string, TSchema>; anyOf?: TSchema[]; items?: TSchema };
  if (s.properties) {
    const props = Object.fromEntries(Object.entries(s.properties).map(([k, v]) => [k, closed(v)]));
    return { ...s, properties: props, additionalProperties: false } as TSchema;
  }
  if (s.anyOf) return { ...s, anyOf: s.anyOf.map(closed) } as TSchema;
  if (s.items) return { ...s, items: closed(s.items) } as TSchema;
  return s;
}

function problems(schema: TSchema, value: unknown): string[] {
  return [...TypeCompiler.Compile(closed(schema)).Errors(value)].map((e) => `${e.path}: ${e.message}`);
}

describe('admin API responses match their documented schemas', () => {
  let admin: AdminFixture;
  const store = new MemoryStore();
  beforeAll(async () => {
    admin = await startAdmin(store);
  });
  afterAll(async () => {
    await admin.close();
    await store.close();
  });

  it('account (created, shown, listed) and bindings', async () => {
    const created = await call(admin.url, 'POST', '/api/v1/accounts', { username: 'shape1', algorithms: ['MD5'] });
    expect(created.status).toBe(201);
    expect(problems(accountWithPassword, created.body)).toEqual([]);
    const shown = await call(admin.url, 'GET', '/api/v1/accounts/shape1');
    expect(problems(accountView, shown.body)).toEqual([]);
    const listed = await call(admin.url, 'GET', '/api/v1/accounts');
    expect(problems(Type.Object({ items: Type.Array(accountView), nextCursor: Type.Any() }), listed.body)).toEqual([]);
    await seedBinding(store, 'shape1@example.com');
    const bindings = (await call(admin.url, 'GET', '/api/v1/accounts/shape1/bindings')).body as {
      bindings: unknown[];
    };
    expect(bindings.bindings).toHaveLength(1);
    for (const b of bindings.bindings) expect(problems(bindingView, b)).toEqual([]);
  });

  it('the check can fail: a response with a field the schema does not name is caught', () => {
    expect(problems(accountView, { aor: 'x' }).length).toBeGreaterThan(0);
    const shown = { ...Object.fromEntries(Object.keys(accountView.properties).map((k) => [k, null])), extra: 1 };
    expect(problems(accountView, shown).some((p) => /extra|additional|Unexpected/i.test(p))).toBe(true);
  });
});
