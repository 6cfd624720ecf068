// Builds the web console (src/web) into dist/web: one bundled, minified app.js (Preact
// inlined, no CDN), the page and its stylesheet. Run by `npm run build` (and so at install).
import { build } from "esbuild"
import { copyFileSync, mkdirSync } from "node:fs"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("..", import.meta.url))
const out = root + "dist/web/"
mkdirSync(out, { recursive: true })
await build({
  entryPoints: [root + "src/web/app/main.tsx"],
  outfile: out + "app.js",
  bundle: true,
  minify: true,
  format: "esm",
  target: "es2020",
  jsx: "automatic",
  jsxImportSource: "preact",
  legalComments: "none",
  logLevel: "warning"
})
copyFileSync(root + "src/web/index.html", out + "index.html")
copyFileSync(root + "src/web/app.css", out + "app.css")
