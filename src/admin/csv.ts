/**
 * CSV (RFC 4180) and JSONL account files for `sipreg accounts import`, turned into the NDJSON the API takes.
 * Pure: text in, records out, with the source line of each record so errors point into the operator's file.
 */
import { parse } from 'csv-parse/sync';

export class ImportFileError extends Error {}

/**
 * RFC 4180 records (csv-parse): quoted fields may hold commas, quotes ("") and line breaks; CRLF, LF and CR all end
 * a record; a BOM and blank lines are skipped. Each record keeps its first line number.
 */
export function parseCsv(text: string): Array<{ line: number; fields: string[] }> {
  let rows: Array<{ record: string[]; info: { lines: number } }>;
  try {
    rows = parse(text, {
      bom: true,
      relax_column_count: true,
      skip_empty_lines: true,
      info: true,
      record_delimiter: ['\r\n', '\n', '\r'],
    }) as unknown as Array<{ record: string[]; info: { lines: number } }>;
  } catch (e) {
    const line = (e as { lines?: number }).lines;
    const what =
      (e as { code?: string }).code === 'CSV_QUOTE_NOT_CLOSED' ? 'unterminated quoted field' : (e as Error).message;
    throw new ImportFileError(line === undefined ? what : `line ${line}: ${what}`);
  }
  // csv-parse reports the line a record ends on; the operator wants the one it starts on.
  const breaks = (fields: string[]): number => fields.reduce((n, f) => n + (f.match(/\r\n|\r|\n/g)?.length ?? 0), 0);
  return rows.map(({ record, info }) => ({ line: info.lines - breaks(record), fields: record }));
}

const COLUMNS: Record<string, string> = {
  username: 'username',
  user: 'username',
  extension: 'username',
  domain: 'domain',
  authid: 'authId',
  auth_id: 'authId',
  password: 'password',
  secret: 'password',
  authtype: 'authType',
  auth_type: 'authType',
  allowedaddresses: 'allowedAddresses',
  allowed_addresses: 'allowedAddresses',
  enabled: 'enabled',
  maxcontacts: 'maxContacts',
  max_contacts: 'maxContacts',
  algorithms: 'algorithms',
};

const splitList = (text: string): string[] => text.split(/[;\s]+/).filter((s) => s !== '');

/** A cell's text as the JSON value the API expects; values that do not convert are passed on for the API to refuse. */
function cellValue(field: string, text: string): unknown {
  switch (field) {
    case 'allowedAddresses':
    case 'algorithms':
      return splitList(text);
    case 'enabled': {
      const t = text.toLowerCase();
      if (['true', 'yes', '1', 'y'].includes(t)) return true;
      if (['false', 'no', '0', 'n'].includes(t)) return false;
      return text;
    }
    case 'maxContacts':
      return /^\d+$/.test(text) ? Number(text) : text;
    default:
      return text;
  }
}

export interface ImportLines {
  /** One JSON object per line. */
  ndjson: string;
  /** sourceLines[i] is the file line of NDJSON line i + 1. */
  sourceLines: number[];
}

/** CSV with a header row (username,domain,authId,password,authType,allowedAddresses,enabled,maxContacts,algorithms). */
export function csvToNdjson(text: string): ImportLines {
  const records = parseCsv(text);
  const header = records.shift();
  if (header === undefined) throw new ImportFileError('the CSV file is empty');
  const names = header.fields.map((h) => {
    const name = COLUMNS[h.trim().toLowerCase()];
    if (name === undefined) throw new ImportFileError(`unknown CSV column ${JSON.stringify(h.trim())}`);
    return name;
  });
  if (!names.includes('username')) throw new ImportFileError('the CSV header has no username column');
  const lines: string[] = [];
  const sourceLines: number[] = [];
  for (const record of records) {
    if (record.fields.length > names.length) {
      throw new ImportFileError(`line ${record.line}: ${record.fields.length} fields, the header has ${names.length}`);
    }
    const object: Record<string, unknown> = {};
    record.fields.forEach((raw, i) => {
      const text = raw.trim();
      // An empty cell means "not given" (the default applies).
      if (text !== '') object[names[i] as string] = cellValue(names[i] as string, text);
    });
    lines.push(JSON.stringify(object));
    sourceLines.push(record.line);
  }
  return { ndjson: lines.join('\n') + '\n', sourceLines };
}

/** JSONL passes through; line numbers are the file's own (blank lines kept so they stay aligned). */
export function jsonlToNdjson(text: string): ImportLines {
  const body = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const lines = body.split('\n').map((l) => l.replace(/\r$/, ''));
  return { ndjson: lines.join('\n'), sourceLines: lines.map((_, i) => i + 1) };
}

export function detectFormat(fileName: string, text: string): 'csv' | 'jsonl' {
  const lower = fileName.toLowerCase();
  if (lower.endsWith('.csv')) return 'csv';
  if (lower.endsWith('.jsonl') || lower.endsWith('.ndjson') || lower.endsWith('.json')) return 'jsonl';
  return text
    .replace(/^\uFEFF/, '')
    .trimStart()
    .startsWith('{')
    ? 'jsonl'
    : 'csv';
}
