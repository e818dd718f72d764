"""Results as data: the checks' catalog (stable ids), the run's ledger, and the verdict and
exit code computed from it. No pytest here: the suite's hooks and the probe both write it."""
