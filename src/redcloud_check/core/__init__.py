"""The foundation every other part stands on: settings, errors, plain models, the recorded
HTTP exchange and the client that records it, webhook signing, redaction, clocks and ids, and
the one loopback HTTP server runner. Depends on nothing else in redcloud_check."""
