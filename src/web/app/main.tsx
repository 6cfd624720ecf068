/**
 * The console: hash routes (`#/`, `#/runs/<id>`, `#/operator`) so the server serves one
 * page; the operator connection lives here, above the pages, so moving between pages
 * never drops it.
 */
import { render } from "preact"
import { useEffect, useState } from "preact/hooks"
import { Operator } from "./operator.js"
import { OperatorPage } from "./OperatorPage.js"
import { Overview } from "./Overview.js"
import { RunPage } from "./RunPage.js"

const useHash = () => {
  const [hash, setHash] = useState(location.hash)
  useEffect(() => {
    const on = () => setHash(location.hash)
    addEventListener("hashchange", on)
    return () => removeEventListener("hashchange", on)
  }, [])
  return hash
}

const useOperator = () => {
  const [operator, setOperator] = useState<Operator | undefined>(() => Operator.stored())
  const [, setVersion] = useState(0)
  useEffect(() => {
    if (operator === undefined) return
    const off = operator.subscribe(() => setVersion((v) => v + 1))
    operator.start()
    return () => {
      off()
      operator.stop()
    }
  }, [operator])
  return [operator, setOperator] as const
}

const App = () => {
  const hash = useHash()
  const [operator, setOperator] = useOperator()
  const run = /^#\/runs\/([A-Za-z0-9-]+)$/.exec(hash)?.[1]
  const pending = operator?.state.requests.length ?? 0
  return (
    <>
      <header>
        <nav aria-label="main">
          <a href="#/" class="brand">swarmgate</a>
          <a href="#/" aria-current={hash === "" || hash === "#/" ? "page" : undefined}>Overview</a>
          <a href="#/operator" aria-current={hash === "#/operator" ? "page" : undefined}>
            Operator{operator ? ` (${operator.state.link}${pending ? `, ${pending} pending` : ""})` : ""}
          </a>
          <a href="/docs">API reference</a>
        </nav>
      </header>
      {run !== undefined
        ? <RunPage runId={run} operator={operator} />
        : hash === "#/operator"
        ? <OperatorPage operator={operator} onJoin={setOperator} onLeave={() => setOperator(undefined)} />
        : <Overview operator={operator} />}
    </>
  )
}

const root = document.getElementById("app")!
root.textContent = "" // the "Loading…" placeholder: render() would keep it beside the app
render(<App />, root)
