/**
 * A deliberately strict parser of the Prometheus text exposition format 0.0.4, for tests only.
 * Stricter than Prometheus itself where our exporter promises more: no blank lines, TYPE (and at
 * most one HELP) before a family's first sample, a family's samples contiguous, no duplicate
 * series, only the three legal label-value escapes, histograms complete and cumulative.
 */
export interface ParsedSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface ParsedFamily {
  name: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  help?: string;
  samples: ParsedSample[];
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*/;
const FLOAT = /^(?:[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|[+-]Inf|NaN)$/;
const TYPES = ['counter', 'gauge', 'histogram', 'summary', 'untyped'] as const;

export class ExpositionFormatError extends Error {
  constructor(lineNo: number, line: string, reason: string) {
    super(`line ${lineNo}: ${reason}: ${JSON.stringify(line)}`);
  }
}

export function parsePrometheus(text: string): Map<string, ParsedFamily> {
  if (text.length > 0 && !text.endsWith('\n')) throw new Error('output must end with a line feed');
  const families = new Map<string, ParsedFamily>();
  const seenSeries = new Set<string>();
  const closed = new Set<string>();
  const typed = new Set<string>();
  let current: ParsedFamily | undefined;
  const lines = text.length === 0 ? [] : text.slice(0, -1).split('\n');
  lines.forEach((line, i) => {
    const fail = (reason: string): never => {
      throw new ExpositionFormatError(i + 1, line, reason);
    };
    if (line === '') fail('blank line');
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) ([^ ]+) (.*)$/.exec(line) ?? fail('malformed comment');
      const [, kind, name, rest] = m;
      if (!NAME.test(name!) || NAME.exec(name!)![0] !== name) fail('bad metric name');
      let family = families.get(name!);
      if (family && family.samples.length > 0) fail(`${kind} after samples of ${name}`);
      if (!family) {
        if (current) closed.add(current.name);
        family = { name: name!, type: 'untyped', samples: [] };
        families.set(name!, family);
        current = family;
      } else if (family !== current) fail('family split');
      if (kind === 'HELP') {
        if (family.help !== undefined) fail('second HELP');
        family.help = unescapeHelp(rest!, fail);
      } else {
        if (typed.has(family.name)) fail('second TYPE');
        if (!(TYPES as readonly string[]).includes(rest!)) fail('unknown type');
        family.type = rest as ParsedFamily['type'];
        typed.add(family.name);
      }
      return;
    }
    const sample = parseSample(line, fail);
    const family = familyOf(sample.name, families) ?? fail('sample before its TYPE');
    if (!typed.has(family.name)) fail('sample without TYPE');
    if (family !== current) fail(closed.has(family.name) ? 'family samples not contiguous' : 'family split');
    if (family.type === 'counter' && !sample.name.endsWith('_total')) fail('counter not named *_total');
    const key = `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort())}`;
    if (seenSeries.has(key)) fail('duplicate series');
    seenSeries.add(key);
    family.samples.push(sample);
  });
  for (const family of families.values()) if (family.type === 'histogram') checkHistogram(family);
  return families;
}

function familyOf(sampleName: string, families: Map<string, ParsedFamily>): ParsedFamily | undefined {
  const direct = families.get(sampleName);
  if (direct && direct.type !== 'histogram') return direct;
  const m = /^(.*)_(bucket|sum|count)$/.exec(sampleName);
  const base = m ? families.get(m[1]!) : undefined;
  return base?.type === 'histogram' ? base : undefined;
}

function parseSample(line: string, fail: (reason: string) => never): ParsedSample {
  const name = NAME.exec(line)?.[0] ?? fail('bad metric name');
  let pos = name.length;
  const labels: Record<string, string> = {};
  if (line[pos] === '{') {
    pos++;
    while (line[pos] !== '}') {
      const labelName = LABEL_NAME.exec(line.slice(pos))?.[0] ?? fail(`bad label name at ${pos}`);
      pos += labelName.length;
      if (line.slice(pos, pos + 2) !== '="') fail(`expected =" at ${pos}`);
      pos += 2;
      let value = '';
      for (;;) {
        const c = line[pos] ?? fail('unterminated label value');
        pos++;
        if (c === '"') break;
        if (c === '\\') {
          const e = line[pos++];
          if (e === '\\') value += '\\';
          else if (e === '"') value += '"';
          else if (e === 'n') value += '\n';
          else fail(`illegal escape \\${e}`);
        } else value += c;
      }
      if (Object.hasOwn(labels, labelName)) fail(`duplicate label ${labelName}`);
      labels[labelName] = value;
      if (line[pos] === ',') pos++;
      else if (line[pos] !== '}') fail(`expected , or } at ${pos}`);
    }
    pos++;
  }
  if (line[pos] !== ' ') fail('expected one space before the value');
  const rest = line.slice(pos + 1).split(' ');
  if (rest.length > 2 || (rest.length === 2 && !/^-?\d+$/.test(rest[1]!))) fail('bad value/timestamp');
  if (!FLOAT.test(rest[0]!)) fail('bad value');
  const raw = rest[0]!;
  const value = raw === '+Inf' ? Infinity : raw === '-Inf' ? -Infinity : Number(raw);
  return { name, labels, value };
}

function unescapeHelp(text: string, fail: (reason: string) => never): string {
  return text.replace(/\\(.?)/g, (_, e: string) => (e === '\\' ? '\\' : e === 'n' ? '\n' : fail(`illegal HELP escape \\${e}`)));
}

function checkHistogram(family: ParsedFamily): void {
  const groups = new Map<string, { buckets: Array<[number, number]>; sum?: number; count?: number }>();
  for (const s of family.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    const g = groups.get(key) ?? { buckets: [] };
    groups.set(key, g);
    if (s.name.endsWith('_bucket')) {
      if (le === undefined) throw new Error(`${family.name}: bucket without le`);
      g.buckets.push([le === '+Inf' ? Infinity : Number(le), s.value]);
    } else if (le !== undefined) throw new Error(`${family.name}: le on ${s.name}`);
    else if (s.name.endsWith('_sum')) g.sum = s.value;
    else g.count = s.value;
  }
  for (const [key, g] of groups) {
    const where = `${family.name}${key}`;
    if (g.sum === undefined || g.count === undefined) throw new Error(`${where}: missing _sum or _count`);
    const last = g.buckets[g.buckets.length - 1];
    if (!last || last[0] !== Infinity) throw new Error(`${where}: last bucket is not le="+Inf"`);
    if (last[1] !== g.count) throw new Error(`${where}: +Inf bucket ${last[1]} != _count ${g.count}`);
    for (let i = 1; i < g.buckets.length; i++) {
      if (!(g.buckets[i]![0] > g.buckets[i - 1]![0])) throw new Error(`${where}: le not increasing`);
      if (g.buckets[i]![1] < g.buckets[i - 1]![1]) throw new Error(`${where}: buckets not cumulative`);
    }
  }
}
