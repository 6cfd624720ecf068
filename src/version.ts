/** The package version, read from package.json (which sits beside both src/ and dist/). */
import pkg from "../package.json" with { type: "json" }

export const version: string = pkg.version
