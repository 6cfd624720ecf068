/** A JSON value: inline (compact) when short, else pretty-printed in a closed <details>. */
export const Json = ({ value, label }: { value: unknown; label: string }) => {
  if (value === undefined) return null
  const compact = typeof value === "string" ? value : JSON.stringify(value) ?? String(value)
  if (compact.length <= 120 && !compact.includes("\n")) return <code class="value">{compact}</code>
  const text = typeof value === "string" ? value : JSON.stringify(value, null, 2) ?? String(value)
  return (
    <details class="value">
      <summary>{label} ({text.length} characters)</summary>
      <pre>{text}</pre>
    </details>
  )
}
