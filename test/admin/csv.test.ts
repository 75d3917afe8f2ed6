import { describe, expect, it } from 'vitest';
import { csvToNdjson, detectFormat, ImportFileError, jsonlToNdjson, parseCsv } from '../../src/admin/csv.js';

describe('parseCsv', () => {
  it('handles quotes, escaped quotes, embedded commas and newlines, CRLF and a BOM', () => {
    const text = '\uFEFFa,b\r\n"x, y","say ""hi"""\r\n"multi\nline",z\n\nlast,row';
    expect(parseCsv(text)).toEqual([
      { line: 1, fields: ['a', 'b'] },
      { line: 2, fields: ['x, y', 'say "hi"'] },
      { line: 3, fields: ['multi\nline', 'z'] },
      { line: 6, fields: ['last', 'row'] },
    ]);
  });

  it('refuses an unterminated quote', () => {
    expect(() => parseCsv('a\n"open')).toThrow(ImportFileError);
  });
});

describe('csvToNdjson', () => {
  it('maps columns to API fields with types and keeps file line numbers', () => {
    const csv = [
      'username,domain,authId,password,authType,allowedAddresses,enabled,maxContacts,algorithms',
      '1001,,,pw-one-long-enough,,,yes,3,SHA-256;MD5',
      '',
      'trunk,other.example,,,ip,192.0.2.1; 10.0.0.0/8,false,,',
    ].join('\n');
    const { ndjson, sourceLines } = csvToNdjson(csv);
    expect(
      ndjson
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as unknown),
    ).toEqual([
      {
        username: '1001',
        password: 'pw-one-long-enough',
        enabled: true,
        maxContacts: 3,
        algorithms: ['SHA-256', 'MD5'],
      },
      {
        username: 'trunk',
        domain: 'other.example',
        authType: 'ip',
        allowedAddresses: ['192.0.2.1', '10.0.0.0/8'],
        enabled: false,
      },
    ]);
    expect(sourceLines).toEqual([2, 4]);
  });

  it('passes unconvertible values on for the API to refuse, and refuses unknown columns', () => {
    const { ndjson } = csvToNdjson('username,maxContacts,enabled\nx,many,perhaps\n');
    expect(JSON.parse(ndjson.trim())).toEqual({ username: 'x', maxContacts: 'many', enabled: 'perhaps' });
    expect(() => csvToNdjson('username,colour\nx,red\n')).toThrow(/colour/);
    expect(() => csvToNdjson('domain\nexample.com\n')).toThrow(/username/);
    expect(() => csvToNdjson('')).toThrow(/empty/);
    expect(() => csvToNdjson('username\na,b\n')).toThrow(/line 2/);
  });
});

describe('jsonl and format detection', () => {
  it('keeps JSONL line numbers', () => {
    expect(jsonlToNdjson('{"username":"a"}\r\n\r\n{"username":"b"}\n')).toEqual({
      ndjson: '{"username":"a"}\n\n{"username":"b"}\n',
      sourceLines: [1, 2, 3, 4],
    });
  });

  it('detects by extension, else by content', () => {
    expect(detectFormat('a.csv', '{')).toBe('csv');
    expect(detectFormat('a.JSONL', 'x')).toBe('jsonl');
    expect(detectFormat('accounts', '  {"username":"x"}')).toBe('jsonl');
    expect(detectFormat('accounts', 'username,password')).toBe('csv');
  });
});
