/** A JSON value: inline when short, in a closed <details> when large. */
export const Json = ({ value, label }: { value: unknown; label: string }) => {
  if (value === undefined) return null
  const text = typeof value === "string" ? value : JSON.stringify(value, null, 2) ?? String(value)
  if (text.length <= 120 && !text.includes("\n")) return <code class="value">{text}</code>
  return (
    <details class="value">
      <summary>{label} ({text.length} characters)</summary>
      <pre>{text}</pre>
    </details>
  )
}
