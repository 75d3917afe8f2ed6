/**
 * The one schema of what an operator may send to create or change an account: from it come the TypeScript types, the
 * admin API's request validation (fastify hands it to ajv), its OpenAPI document, and the validation of every other
 * way in (CSV and JSON import, the CLI, the console). Each rule's wording is its `description`, so a refusal names
 * the field and the rule it broke.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import { TypeCompiler, type ValueError } from '@sinclair/typebox/compiler';
import { DIGEST_ALGORITHMS } from './types.js';

export const MAX_USERNAME_LENGTH = 64;
export const MAX_CONTACTS_LIMIT = 100;

// RFC 3261 25.1: user = 1*( unreserved / escaped / user-unreserved ). No '@', no space, no control characters.
const USER_TOKEN = "^(?:[A-Za-z0-9\\-_.!~*'()&=+$,;?/]|%[0-9A-Fa-f]{2})+$";

const userToken = (title: string) =>
  Type.String({
    minLength: 1,
    maxLength: MAX_USERNAME_LENGTH,
    pattern: USER_TOKEN,
    title,
    description: `1..${MAX_USERNAME_LENGTH} characters of a SIP user token (no '@', spaces or control characters)`,
  });

const algorithms = Type.Array(Type.Union(DIGEST_ALGORITHMS.map((a) => Type.Literal(a))), {
  minItems: 1,
  maxItems: DIGEST_ALGORITHMS.length,
  uniqueItems: true,
  description: `a non-empty list of ${DIGEST_ALGORITHMS.join(', ')} without repeats: the challenge order for this account (first = preferred); null = the registrar default`,
});

const allowedAddresses = Type.Array(Type.String({ minLength: 1, maxLength: 64 }), {
  maxItems: 100,
  description: 'at most 100 IP addresses or CIDRs (v4 or v6)',
});

const maxContacts = Type.Integer({
  minimum: 1,
  maximum: MAX_CONTACTS_LIMIT,
  description: `an integer in 1..${MAX_CONTACTS_LIMIT}: bindings allowed at once`,
});

export const AccountInputSchema = Type.Object(
  {
    username: userToken('the SIP user (the extension)'),
    domain: Type.Optional(
      Type.String({ minLength: 1, maxLength: 253, description: 'one of the served domains; default: the first' }),
    ),
    authId: Type.Optional(userToken('the digest username; default: username')),
    password: Type.Optional(
      Type.String({ maxLength: 128, description: 'a string; omit to have one generated and returned once' }),
    ),
    authType: Type.Optional(
      Type.Union([Type.Literal('digest'), Type.Literal('ip')], { description: "'digest' or 'ip'" }),
    ),
    allowedAddresses: Type.Optional(allowedAddresses),
    enabled: Type.Optional(Type.Boolean({ description: 'true or false' })),
    maxContacts: Type.Optional(maxContacts),
    algorithms: Type.Optional(algorithms),
  },
  { additionalProperties: false },
);

export const AccountPatchSchema = Type.Object(
  {
    enabled: Type.Optional(Type.Boolean({ description: 'true or false; false removes every binding at once' })),
    allowedAddresses: Type.Optional(allowedAddresses),
    maxContacts: Type.Optional(Type.Union([maxContacts, Type.Null()], { description: maxContacts.description })),
    algorithms: Type.Optional(Type.Union([algorithms, Type.Null()], { description: algorithms.description })),
  },
  { additionalProperties: false, minProperties: 1 },
);

export type AccountInput = Static<typeof AccountInputSchema>;
/** What an operator may change (null: back to the registrar's default). */
export type AccountPatchInput = Static<typeof AccountPatchSchema>;

export type Checked<T> = { ok: true; value: T } | { ok: false; problem: string };

/** A checker compiled once from a schema; a refusal names the field and the rule (`maxContacts: an integer ...`). */
export function checker<S extends TSchema>(schema: S, what: string): (value: unknown) => Checked<Static<S>> {
  const compiled = TypeCompiler.Compile(schema);
  const known = new Set(Object.keys((schema as { properties?: object }).properties ?? {}));
  return (value) => {
    if (typeof value !== 'object' || value === null || Array.isArray(value))
      return { ok: false, problem: `${what} must be a JSON object` };
    for (const key of Object.keys(value)) if (!known.has(key)) return { ok: false, problem: `${key}: unknown field` };
    const first = compiled.Errors(value).First();
    return first === undefined
      ? { ok: true, value: value as Static<S> }
      : { ok: false, problem: problemOf(first, schema) };
  };
}

function problemOf(e: ValueError, root: TSchema): string {
  const field = e.path.split('/')[1];
  if (field === undefined || field === '') return e.message; // the object itself (e.g. nothing to change)
  const rule = ((root as { properties?: Record<string, TSchema> }).properties?.[field] as { description?: string })
    ?.description;
  return `${field}: ${rule ?? e.message}`;
}
