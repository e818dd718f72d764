"""The foundation every other part stands on: settings (config), errors, findings, the
recorded HTTP exchange and the client that records it (exchange, client, recorder on
shared_log), webhook signing, redaction, waivers, and one helper per job: atomic file
writes (files), run ids (ids), the timestamp format (timefmt), E.164 numbers (e164), the
stage names (stage_names), hosts and URLs (urls: brackets, loopback, no userinfo), the exit
codes (exit_codes) and the one loopback HTTP server runner (http_server). Depends on nothing
else in redcloud_check (tests/test_layers.py), but for config's check of the simulator's
fault and variant names."""
