#!/usr/bin/env node
// `npm run bench`: runs the TypeScript benchmarks through tsx, as bin/swarmgate.mjs runs the server.
import { register } from "tsx/esm/api"

register()
await import("../bench/main.ts")
