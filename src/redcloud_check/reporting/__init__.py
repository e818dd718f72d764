"""Evidence and its renderings: the escalation bundle, the diagnosis pipeline, the artifacts
(escalation.json / .md, junit properties), the HTML report and the curl reproductions."""
