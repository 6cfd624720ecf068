/**
 * Storage variants for the repository suite: memory, and SQLite on a real file in a fresh
 * temp dir per test (removed after the run).
 */
import { Layer } from "effect"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { afterAll } from "vitest"
import type { Repositories } from "../../src/layers/App.js"
import { MemoryStorage } from "../../src/layers/MemoryStorage.js"
import { SqliteStorage } from "../../src/layers/SqliteStorage.js"

const dirs: Array<string> = []
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

/** A fresh temp dir, removed when the test file ends. */
export const tempDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), "swarmgate-storage-"))
  dirs.push(dir)
  return dir
}

export interface StorageVariant {
  readonly name: "memory" | "sqlite"
  /** Fresh, empty storage. */
  readonly fresh: () => Layer.Layer<Repositories, unknown>
}

export const variants: ReadonlyArray<StorageVariant> = [
  { name: "memory", fresh: () => MemoryStorage },
  { name: "sqlite", fresh: () => SqliteStorage(join(tempDir(), "data")) }
]
