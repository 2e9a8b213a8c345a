"""One module per --service-kind: control plane plus request encoding."""
