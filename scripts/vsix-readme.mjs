// Writes the README that the .vsix carries (`npm run package` passes it to vsce as --readme-path):
// README.md without its screenshots.
//
// VS Code shows an installed extension's README on its details page with every image source that
// is not http(s) removed (its sanitizer), under a Content Security Policy that loads https and
// data: images only; so an image from the extension's own folder shows as a broken image there,
// whatever the path. The screenshots stay in README.md for the repository; the extension shows
// its own in the Get Started walkthrough, which loads them from the installed extension.
//
// Dropped: a line that is only an image, a table row holding an image, and a table left without
// rows. Any other image that is not https (inside a paragraph, say) stops the packaging with its
// line, so that no broken image reaches the details page unnoticed.
//
//   node scripts/vsix-readme.mjs [README.md] [dist/README.md]
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

const [from = 'README.md', to = 'dist/README.md'] = process.argv.slice(2);

const IMAGE = /!\[[^\]]*\]\(\s*<?([^)\s>]+)[^)]*\)|<img\b[^>]*\bsrc\s*=\s*["']?([^"'\s>]+)/gi;
/** The sources of the images in a line that are not https. */
const localImages = (line) => [...line.matchAll(IMAGE)].map((m) => m[1] ?? m[2]).filter((src) => !/^https:\/\//i.test(src));
const isTableRow = (line) => /^\s*\|/.test(line);
const isDelimiterRow = (line) => /^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$/.test(line);

const lines = readFileSync(from, 'utf8').split('\n');
const out = [];
let fence = false;
for (let i = 0; i < lines.length; i++) {
  const line = lines[i];
  if (/^\s*(```|~~~)/.test(line)) fence = !fence;
  if (fence || !localImages(line).length) {
    out.push(line);
    continue;
  }
  if (line.replace(IMAGE, '').trim() === '') continue;
  if (isTableRow(line)) {
    // a table's last image row: drop the header and delimiter rows too when no other row is left
    const rest = lines.slice(i + 1);
    const more = rest.findIndex((l) => !isTableRow(l));
    const others = (more < 0 ? rest : rest.slice(0, more)).filter((l) => !localImages(l).length);
    const n = out.length;
    if (!others.length && n >= 2 && isDelimiterRow(out[n - 1]) && isTableRow(out[n - 2]) && !isTableRow(out[n - 3] ?? '')) out.splice(n - 2, 2);
    continue;
  }
  console.error(`${from}:${i + 1}: an image (${localImages(line).join(', ')}) inside text: the extension's details page cannot show it; put it on a line of its own`);
  process.exit(2);
}
mkdirSync(dirname(to), { recursive: true });
writeFileSync(to, out.join('\n').replace(/\n{3,}/g, '\n\n'));
