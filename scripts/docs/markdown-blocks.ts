/**
 * The code blocks of the README and docs/, and where each comes from. A block may be preceded by a
 * marker comment on the line before its fence:
 *
 * - `<!-- include: sample-app/provider/main.ts#createMicroservice -->`: the block IS that region of
 *   a compiled sample file (`// #region createMicroservice` ... `// #endregion createMicroservice`;
 *   without `#region`, the whole file), with the sample's `../../lib/index.js` imports written as
 *   the package name. `npm run docs:sync` rewrites such blocks; a test fails when one differs.
 * - `<!-- quickstart: src/main.ts -->` (or `package.json (esm)`...): a file of the README's quick
 *   start, which a test builds and runs in a fresh consumer project.
 *
 * Every other TypeScript block is typechecked by a test as a module of its own.
 */

export interface CodeBlock {
  /** The fence's language (`ts`, `json`, `bash`...). */
  readonly lang: string;
  /** The marker on the line before the fence, if any. */
  readonly marker: Marker | undefined;
  /** The block's text, every line ending with `\n`. */
  readonly content: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
  /** Offsets of `content` in the markdown. */
  readonly start: number;
  readonly end: number;
}

export type Marker =
  | { readonly kind: 'include'; readonly path: string; readonly region: string | undefined }
  | { readonly kind: 'quickstart'; readonly file: string; readonly variant: string | undefined };

const MARKER = /^<!--\s*(include|quickstart):\s*(.+?)\s*-->\s*$/;
const FENCE = /^(`{3,})\s*([\w-]*)/;

/** The fenced code blocks of `markdown`, in order. */
export function codeBlocks(markdown: string): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  const lines = markdown.split('\n');
  const offsets: number[] = [];
  let at = 0;
  for (const line of lines) {
    offsets.push(at);
    at += line.length + 1;
  }
  for (let i = 0; i < lines.length; i++) {
    const open = FENCE.exec(lines[i]);
    if (!open) continue;
    const close = lines.findIndex((l, j) => j > i && l.trimEnd() === open[1]);
    if (close === -1) throw new Error(`line ${i + 1}: code block never closed`);
    const start = offsets[i + 1];
    const end = offsets[close];
    blocks.push({
      lang: open[2],
      marker: i > 0 ? parseMarker(lines[i - 1]) : undefined,
      content: markdown.slice(start, end),
      line: i + 1,
      start,
      end,
    });
    i = close;
  }
  return blocks;
}

function parseMarker(line: string): Marker | undefined {
  const m = MARKER.exec(line.trim());
  if (!m) return undefined;
  if (m[1] === 'include') {
    const [path, region] = m[2].split('#');
    return { kind: 'include', path, region: region || undefined };
  }
  const variant = /^(\S+)\s+\((\w+)\)$/.exec(m[2]);
  return { kind: 'quickstart', file: variant ? variant[1] : m[2], variant: variant ? variant[2] : undefined };
}

/**
 * A region of a source file (`// #region name` to `// #endregion name`), dedented; the whole file
 * without `undefined`. Region marker lines are never part of what is shown.
 */
export function regionOf(source: string, region: string | undefined, path = 'the file'): string {
  const lines = source.replace(/\r\n/g, '\n').split('\n');
  const isMarker = (l: string) => /^\s*\/\/ #(end)?region\b/.test(l);
  let body: string[];
  if (region === undefined) {
    body = lines.filter((l) => !isMarker(l));
  } else {
    const from = lines.findIndex((l) => l.trim() === `// #region ${region}`);
    const to = lines.findIndex((l, j) => j > from && l.trim() === `// #endregion ${region}`);
    if (from === -1 || to === -1) throw new Error(`${path} has no region "${region}" (// #region ${region} ... // #endregion ${region})`);
    body = lines.slice(from + 1, to).filter((l) => !isMarker(l));
  }
  while (body.length > 0 && body[body.length - 1].trim() === '') body.pop();
  while (body.length > 0 && body[0].trim() === '') body.shift();
  const indent = Math.min(...body.filter((l) => l.trim() !== '').map((l) => /^ */.exec(l)![0].length));
  return `${body.map((l) => l.slice(Number.isFinite(indent) ? indent : 0)).join('\n')}\n`;
}

/** The sample's imports of the library, as an application writes them. */
export function asPackageImports(code: string): string {
  return code
    .replace(/(['"])(?:\.\.\/)+lib\/index\.js\1/g, "'nestjs-ms-rpc'")
    .replace(/(['"])(?:\.\.\/)+lib\/(\w+)\/index\.js\1/g, "'nestjs-ms-rpc/$2'");
}

/** What an include block must contain. */
export function includedText(marker: Extract<Marker, { kind: 'include' }>, read: (path: string) => string): string {
  return asPackageImports(regionOf(read(marker.path), marker.region, marker.path));
}

/** `markdown` with every include block rewritten from its source. */
export function syncIncludes(markdown: string, read: (path: string) => string): string {
  let out = '';
  let last = 0;
  for (const block of codeBlocks(markdown)) {
    if (block.marker?.kind !== 'include') continue;
    out += markdown.slice(last, block.start) + includedText(block.marker, read);
    last = block.end;
  }
  return out + markdown.slice(last);
}

/** Relative link targets (`[text](docs/x.md#anchor)` → `docs/x.md`), outside code blocks. */
export function relativeLinks(markdown: string): Array<{ target: string; line: number }> {
  const blocks = codeBlocks(markdown);
  const inCode = (offset: number) => blocks.some((b) => offset >= b.start && offset < b.end);
  const links: Array<{ target: string; line: number }> = [];
  for (const m of markdown.matchAll(/\]\(([^)\s]+)\)/g)) {
    const target = m[1].split('#')[0];
    if (!target || /^[a-z]+:/i.test(target) || inCode(m.index!)) continue;
    links.push({ target, line: markdown.slice(0, m.index).split('\n').length });
  }
  return links;
}
