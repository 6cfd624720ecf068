#!/bin/sh
# A stand-in sub-agent for the examples: `swarmgate worker --cmd examples/agent.sh`.
# The prompt arrives on stdin, the system prompt in $SWARMGATE_SYSTEM, the agent's name in
# $SWARMGATE_AGENT; whatever this prints is the step's result. Replace it with a real model
# call, e.g. --cmd 'llm -s "$SWARMGATE_SYSTEM"'.
prompt=$(cat)
case "$SWARMGATE_AGENT" in
  reviewer)
    # ask for one revision in the first round, approve after that
    case "$prompt" in
      *'"round":0'*) echo REVISE ;;
      *) echo APPROVE ;;
    esac ;;
  *) echo "$SWARMGATE_AGENT did: $prompt" ;;
esac
