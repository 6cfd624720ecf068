/**
 * The engine services over storage, config and the session directory:
 * Runs, Worker and Blueprints (what the HTTP layer calls) plus their internals.
 *
 * Needs: the repositories (MemoryStorage or SQLite), EngineConfig, SessionDirectory
 * (usually `SessionDirectory.fromSessions`).
 */
import { Layer } from "effect"
import { Blueprints } from "../services/Blueprints.js"
import { Capabilities } from "../services/Capabilities.js"
import { Dispatcher } from "../services/Dispatcher.js"
import { RunEvents } from "../services/RunEvents.js"
import { RunLifecycle } from "../services/RunLifecycle.js"
import { Runs } from "../services/Runs.js"
import { Seats } from "../services/Seats.js"
import { Steps } from "../services/Steps.js"
import { Worker } from "../services/Worker.js"

const Core = Layer.mergeAll(Capabilities.layer, RunEvents.layer, Seats.layer, Steps.layer)

export const EngineLive = Layer.mergeAll(Runs.layer, Worker.layer, Blueprints.layer).pipe(
  Layer.provideMerge(RunLifecycle.layer),
  Layer.provideMerge(Dispatcher.layer),
  Layer.provideMerge(Core)
)
