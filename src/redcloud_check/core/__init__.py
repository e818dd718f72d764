"""The foundation every other part stands on: settings (config), errors, findings, the
recorded HTTP exchange and the client that records it (exchange, client, recorder on
shared_log), webhook signing, redaction, waivers, and one helper per job: atomic file
writes (files), run ids (ids), the timestamp format (timefmt), hosts in URLs (urls) and the
one loopback HTTP server runner (http_server). Depends on nothing else in redcloud_check."""
