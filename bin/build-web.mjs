// Builds the web console (src/web) into dist/web: one bundled, minified app.js (Preact
// inlined, no CDN), the page and its stylesheet. Run by `npm run build` (and so at install).
// Each file is written beside its place and renamed over it, so a server reading dist/web
// (or a second build: the browser test files each build) never sees half a file.
import { build } from "esbuild"
import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))
const out = root + "dist/web/"
mkdirSync(out, { recursive: true })
const result = await build({
  entryPoints: [root + "src/web/app/main.tsx"],
  outfile: out + "app.js",
  write: false,
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2020",
  jsx: "automatic",
  jsxImportSource: "preact",
  legalComments: "none",
  logLevel: "warning"
})
const place = (name, contents) => {
  const temp = `${out}.${name}.${process.pid}.tmp`
  writeFileSync(temp, contents)
  renameSync(temp, out + name)
}
for (const file of result.outputFiles) place(file.path.slice(file.path.lastIndexOf("/") + 1), file.contents)
place("index.html", readFileSync(root + "src/web/index.html"))
place("app.css", readFileSync(root + "src/web/app.css"))
