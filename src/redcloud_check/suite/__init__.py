"""The suite's pytest side: how checks are declared (`declare`), the stash keys (`stash`),
the run (`run`), a phase's result (`recording`, `collection`) and the reports' glue
(`reports`, `html_hooks`). The hooks themselves are `redcloud_check.plugin`'s."""
