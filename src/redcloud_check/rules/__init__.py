"""What the API must do: the stages and their gates, the JSON Schema registry, and the typed
expectations (`expect`) every check and the probe raise their failures through."""
