"""pytest plugins that break redcloud-check's own machinery on purpose, loaded with `-p` into
a real suite run, to prove that the tool's failures are never reported as a pass."""
