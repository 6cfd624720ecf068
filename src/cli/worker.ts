/**
 * `swarmgate worker [--cmd CMD]` (docs/commands.md): the sub-agent side for a shell program. Fetches
 * the prompt with `SWARMGATE_WORKER_HANDLE`, runs `CMD` with the prompt on stdin and the
 * system prompt in `SWARMGATE_SYSTEM`, submits its stdout: exit 0 = pass, anything else =
 * blocked with its stderr. Without `--cmd` the prompt goes to stdout and the result is read
 * from stdin. Exits 0 once the result is submitted (blocked included: the step records it).
 */
import { Command as Cli, Options } from "@effect/cli"
import { Command } from "@effect/platform"
import { Config, Effect, Option, Stream } from "effect"
import { makeApiClient } from "../client/api.js"
import { command, fail, serverOption, stderr, stdout } from "./common.js"
import { submitRaw } from "./submit.js"

const cmd = Options.text("cmd").pipe(
  Options.withPseudoName("CMD"),
  Options.withDescription(
    "shell command that does the work: prompt on stdin, system prompt in env SWARMGATE_SYSTEM, result on stdout " +
      "(default: print the prompt and read the result from stdin)"
  ),
  Options.optional
)

const handleConfig = Config.string("SWARMGATE_WORKER_HANDLE").pipe(Config.option)

const asText = (prompt: unknown) => (typeof prompt === "string" ? prompt : JSON.stringify(prompt))

const collect = (stream: Stream.Stream<Uint8Array, unknown>) =>
  stream.pipe(Stream.decodeText(), Stream.runFold("", (a, b) => a + b))

const readStdin = Effect.promise(async () => {
  let text = ""
  process.stdin.setEncoding("utf8")
  for await (const chunk of process.stdin) text += chunk
  return text
})

export const worker = Cli.make("worker", { cmd, server: serverOption }, (options) =>
  Effect.gen(function*() {
    const handle = yield* handleConfig
    if (Option.isNone(handle) || handle.value.trim() === "") {
      return yield* fail(
        "SWARMGATE_WORKER_HANDLE is not set: `swarmgate worker` is started by an operator for one step " +
          "(swarmgate operator --exec 'swarmgate worker --cmd ...'), which sets it"
      )
    }
    const server = options.server
    const api = yield* makeApiClient(server)
    const prompt = yield* api.worker.prompt({ headers: { authorization: `Bearer ${handle.value}` }, urlParams: {} })

    const { body, ok, error } = yield* Option.match(options.cmd, {
      onNone: () =>
        Effect.zipRight(
          stdout(asText(prompt.prompt)),
          Effect.map(readStdin, (text) => ({ body: text, ok: true, error: "" }))
        ),
      onSome: (shell) =>
        Effect.scoped(Effect.gen(function*() {
          const proc = yield* Command.make("sh", "-c", shell).pipe(
            Command.env({ SWARMGATE_SYSTEM: prompt.system ?? "" }),
            Command.feed(asText(prompt.prompt)),
            Command.start
          )
          const [out, err, code] = yield* Effect.all([collect(proc.stdout), collect(proc.stderr), proc.exitCode], {
            concurrency: "unbounded"
          })
          return { body: out, ok: Number(code) === 0, error: err.trim() === "" ? `exited with code ${code}` : err }
        }))
    })
    yield* submitRaw(server, handle.value, ok ? body : error, ok ? "pass" : "blocked")
    if (!ok) yield* stderr(`swarmgate worker: the command failed; submitted as blocked: ${error.trim().split("\n")[0]}`)
  }).pipe((body) =>
    command(options.server, body, {
      bad_credential: "the worker handle is unknown; each handle belongs to one step of a running run",
      credential_expired: "the step's handle expired; the operator gets a fresh one on the next spawn",
      step_gone: "the step has already finished or its run ended"
    })
  )).pipe(Cli.withDescription("the sub-agent side for a shell program: fetch the prompt, run CMD, submit its stdout"))
