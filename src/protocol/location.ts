/**
 * How a node's location in a blueprint is written (`$.flow.children[2].body`): the one
 * definition the evaluator (stored in each step record as `location`) and the web console
 * (placing a step on its node) both use, so the two cannot drift apart.
 */

/** The location of the blueprint's root flow node. */
export const flowLocation = "$.flow"

/** The i-th child of a `seq`. */
export const childLocation = (at: string, i: number): string => `${at}.children[${i}]`

/** A named part of a node: a branch's arms, a loop's, fanout's or try's body, a try's catch. */
export const partLocation = (at: string, part: "then" | "else" | "body" | "catch"): string => `${at}.${part}`
