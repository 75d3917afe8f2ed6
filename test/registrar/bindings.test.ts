import { describe, it, expect } from 'vitest';
import {
  applyRegister,
  contactHeaderValue,
  type BindingRequest,
  type BindingRules,
} from '../../src/registrar/bindings.js';
import { parseContacts } from '../../src/sip/headers.js';
import type { Binding } from '../../src/domain/types.js';

const T0 = 1_700_000_000_000;
const rules: BindingRules = {
  limits: { minExpires: 60, maxExpires: 7200, defaultExpires: 3600 },
  maxContacts: 3,
  policy: 'reject',
};
const source = { transport: 'udp' as const, address: '192.0.2.1', port: 5060, connectionId: null, node: null };

function contacts(...values: string[]): ReturnType<typeof parseContacts> {
  const c = parseContacts(values);
  if (c === null) throw new Error(`test contact did not parse: ${values.join(' | ')}`);
  return c;
}

function req(over: Partial<BindingRequest> & { contacts: BindingRequest['contacts'] }): BindingRequest {
  return {
    expiresHeader: undefined,
    callId: 'call-1',
    cseq: 10,
    path: [],
    source,
    userAgent: 'ua/1',
    now: T0,
    ...over,
  };
}

function ok(o: ReturnType<typeof applyRegister>) {
  if (!o.ok) throw new Error(`expected success, got ${o.code}`);
  return o;
}

/** Registers `values` on top of nothing and returns the bindings. */
function seed(...values: string[]): Binding[] {
  return ok(applyRegister([], req({ contacts: contacts(...values) }), { ...rules, maxContacts: 10 })).bindings;
}

describe('applyRegister (RFC 3261 10.3 steps 6-8)', () => {
  it('adds a new binding with everything the store needs', () => {
    const o = ok(
      applyRegister(
        [],
        req({ contacts: contacts('<sip:a@192.0.2.1:5060>;q=0.5;foo=bar'), path: ['<sip:edge.example;lr>'] }),
        rules,
      ),
    );
    expect(o).toMatchObject({ added: 1, refreshed: 0, removed: 0, unchanged: false });
    const b = o.bindings[0] as Binding;
    expect(b).toMatchObject({
      uri: 'sip:a@192.0.2.1:5060',
      params: ';foo=bar',
      q: 0.5,
      expiresAt: T0 + 3600_000,
      callId: 'call-1',
      cseq: 10,
      instance: null,
      regId: null,
      path: ['<sip:edge.example;lr>'],
      source,
      userAgent: 'ua/1',
      registeredAt: T0,
      updatedAt: T0,
    });
    expect(contactHeaderValue(b, T0 + 1000)).toBe('<sip:a@192.0.2.1:5060>;foo=bar;q=0.5;expires=3599');
  });

  it('no Contact: a fetch that changes nothing', () => {
    const current = seed('<sip:a@192.0.2.1>');
    const o = ok(applyRegister(current, req({ contacts: null }), rules));
    expect(o.unchanged).toBe(true);
    expect(o.bindings).toEqual(current);
  });

  it('refreshes a binding whose URI is equivalent (RFC 3261 19.1.4), keeping registeredAt', () => {
    const current = seed('<sip:a@192.0.2.1:5060>');
    const o = ok(
      applyRegister(
        current,
        req({ contacts: contacts('<sip:a@192.0.2.1:5060;unknown=1>'), cseq: 11, now: T0 + 5000 }),
        rules,
      ),
    );
    expect(o).toMatchObject({ added: 0, refreshed: 1, removed: 0 });
    expect(o.bindings).toHaveLength(1);
    expect(o.bindings[0]).toMatchObject({ registeredAt: T0, updatedAt: T0 + 5000, cseq: 11 });
  });

  it('expires from the contact param, then the Expires header; clamps to the maximum', () => {
    const o = ok(
      applyRegister(
        [],
        req({
          contacts: contacts('<sip:a@192.0.2.1>;expires=120', '<sip:b@192.0.2.1>', '<sip:c@192.0.2.1>;expires=99999'),
          expiresHeader: 600,
        }),
        rules,
      ),
    );
    expect(o.bindings.map((b) => (b.expiresAt - T0) / 1000)).toEqual([120, 600, 7200]);
  });

  it('expires=0 removes; removing an unknown contact is a no-op', () => {
    const current = seed('<sip:a@192.0.2.1>', '<sip:b@192.0.2.1>');
    const o = ok(
      applyRegister(
        current,
        req({ contacts: contacts('<sip:a@192.0.2.1>;expires=0', '<sip:zz@192.0.2.1>;expires=0'), cseq: 11 }),
        rules,
      ),
    );
    expect(o).toMatchObject({ added: 0, refreshed: 0, removed: 1 });
    expect(o.bindings.map((b) => b.uri)).toEqual(['sip:b@192.0.2.1']);
  });

  it('Expires: 0 removes every listed contact', () => {
    const current = seed('<sip:a@192.0.2.1>');
    const o = ok(
      applyRegister(current, req({ contacts: contacts('<sip:a@192.0.2.1>'), expiresHeader: 0, cseq: 11 }), rules),
    );
    expect(o.bindings).toEqual([]);
  });

  it("'*' with Expires: 0 removes everything", () => {
    const current = seed('<sip:a@192.0.2.1>', '<sip:b@192.0.2.1>');
    const o = ok(applyRegister(current, req({ contacts: '*', expiresHeader: 0, callId: 'other' }), rules));
    expect(o).toMatchObject({ bindings: [], removed: 2 });
  });

  it("'*' without Expires: 0 is 400", () => {
    for (const expiresHeader of [undefined, 60]) {
      const o = applyRegister(seed('<sip:a@192.0.2.1>'), req({ contacts: '*', expiresHeader }), rules);
      expect(o).toMatchObject({ ok: false, code: 'invalid' });
    }
  });

  it("'*' from the same Call-ID with a CSeq not higher is out of order", () => {
    const o = applyRegister(seed('<sip:a@192.0.2.1>'), req({ contacts: '*', expiresHeader: 0, cseq: 10 }), rules);
    expect(o).toMatchObject({ ok: false, code: 'order' });
  });

  it('same Call-ID and CSeq not higher aborts the whole request (RFC 3261 10.3 step 7)', () => {
    const current = seed('<sip:a@192.0.2.1>');
    for (const cseq of [9, 10]) {
      const o = applyRegister(
        current,
        req({ contacts: contacts('<sip:new@192.0.2.1>', '<sip:a@192.0.2.1>'), cseq }),
        rules,
      );
      expect(o).toMatchObject({ ok: false, code: 'order' });
    }
  });

  it('another Call-ID may update with any CSeq', () => {
    const current = seed('<sip:a@192.0.2.1>');
    const o = ok(
      applyRegister(current, req({ contacts: contacts('<sip:a@192.0.2.1>'), callId: 'call-2', cseq: 1 }), rules),
    );
    expect(o.bindings[0]).toMatchObject({ callId: 'call-2', cseq: 1 });
  });

  it('a contact below the minimum is 423 with the minimum', () => {
    const o = applyRegister([], req({ contacts: contacts('<sip:a@192.0.2.1>;expires=30') }), rules);
    expect(o).toMatchObject({ ok: false, code: 'interval', minExpires: 60 });
  });

  it('non-SIP contact URIs are 400 and store nothing', () => {
    const o = applyRegister([], req({ contacts: contacts('<sip:a@192.0.2.1>', '<tel:+15551234>') }), rules);
    expect(o).toMatchObject({ ok: false, code: 'invalid' });
  });

  it('a bad reg-id is 400', () => {
    const o = applyRegister(
      [],
      req({ contacts: contacts('<sip:a@192.0.2.1>;+sip.instance="<urn:uuid:1>";reg-id=x') }),
      rules,
    );
    expect(o).toMatchObject({ ok: false, code: 'invalid', detail: 'Invalid reg-id' });
  });

  it('RFC 5626: a new flow of the same instance and reg-id replaces the old one', () => {
    const inst = '+sip.instance="<urn:uuid:00000000-0000-1000-8000-000A95A0E128>"';
    const current = seed(`<sip:a@192.0.2.1:5060;transport=tcp>;${inst};reg-id=1`);
    expect(current[0]).toMatchObject({ instance: '<urn:uuid:00000000-0000-1000-8000-000A95A0E128>', regId: 1 });
    const o = ok(
      applyRegister(
        current,
        req({ contacts: contacts(`<sip:a@198.51.100.9:40000;transport=tcp>;${inst};reg-id=1`), cseq: 11 }),
        rules,
      ),
    );
    expect(o).toMatchObject({ added: 0, refreshed: 1 });
    expect(o.bindings.map((b) => b.uri)).toEqual(['sip:a@198.51.100.9:40000;transport=tcp']);
    // A second reg-id of the same instance is another flow.
    const o2 = ok(
      applyRegister(
        o.bindings,
        req({ contacts: contacts(`<sip:a@198.51.100.9:40001>;${inst};reg-id=2`), cseq: 12 }),
        rules,
      ),
    );
    expect(o2.bindings).toHaveLength(2);
  });

  it("more live bindings than allowed: 403 and nothing changed (policy 'reject')", () => {
    const current = seed('<sip:a@192.0.2.1>', '<sip:b@192.0.2.1>', '<sip:c@192.0.2.1>');
    const o = applyRegister(current, req({ contacts: contacts('<sip:d@192.0.2.1>'), callId: 'x' }), rules);
    expect(o).toMatchObject({ ok: false, code: 'contacts' });
  });

  it('refreshing at the limit is fine; swapping one for another in one request too', () => {
    const current = seed('<sip:a@192.0.2.1>', '<sip:b@192.0.2.1>', '<sip:c@192.0.2.1>');
    ok(applyRegister(current, req({ contacts: contacts('<sip:a@192.0.2.1>'), callId: 'x' }), rules));
    const o = ok(
      applyRegister(
        current,
        req({ contacts: contacts('<sip:a@192.0.2.1>;expires=0', '<sip:d@192.0.2.1>'), callId: 'x' }),
        rules,
      ),
    );
    expect(o.bindings.map((b) => b.uri).sort()).toEqual(['sip:b@192.0.2.1', 'sip:c@192.0.2.1', 'sip:d@192.0.2.1']);
  });

  it("policy 'replace-oldest' drops the least recently refreshed binding", () => {
    let current: Binding[] = [];
    ['a', 'b', 'c'].forEach((u, i) => {
      current = ok(
        applyRegister(current, req({ contacts: contacts(`<sip:${u}@192.0.2.1>`), callId: u, now: T0 + i * 1000 }), {
          ...rules,
          maxContacts: 10,
        }),
      ).bindings;
    });
    const o = ok(
      applyRegister(current, req({ contacts: contacts('<sip:d@192.0.2.1>'), callId: 'd', now: T0 + 5000 }), {
        ...rules,
        policy: 'replace-oldest',
      }),
    );
    expect(o).toMatchObject({ added: 1, removed: 1 });
    expect(o.bindings.map((b) => b.uri).sort()).toEqual(['sip:b@192.0.2.1', 'sip:c@192.0.2.1', 'sip:d@192.0.2.1']);
  });

  it('a request listing more contacts than allowed is refused whatever the policy', () => {
    const many = Array.from({ length: 50 }, (_, i) => `<sip:u${i}@192.0.2.1>`);
    for (const policy of ['reject', 'replace-oldest'] as const) {
      const o = applyRegister([], req({ contacts: contacts(...many) }), { ...rules, policy });
      expect(o).toMatchObject({ ok: false, code: 'contacts' });
    }
  });
});
