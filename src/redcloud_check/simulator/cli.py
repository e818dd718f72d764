"""``redcloud-check simulate`` (and ``python -m redcloud_check.simulator``): the simulator
standalone, in the foreground, until Ctrl-C or SIGTERM.

The first line printed ends with the base URL (with ``--port 0``, the port actually bound);
then the credentials to use, then one line per request and per webhook attempt. Secrets of
a custom seed, tokens and Authorization headers are never printed.

Exit codes (core.exit_codes): 0 once stopped; 3 for a usage or configuration error
(nothing served); 7 when code of ours raised while serving (`check_handler_errors()` once
stopped; the command line's handler logs the tracebacks).
"""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

from redcloud_check.simulator.catalog import (
    describe_faults,
    describe_variants,
    validate_faults,
    validate_variants,
)
from redcloud_check.simulator.retention import DAY_S, MAX_ENTRIES


def configure_parser(parser: argparse.ArgumentParser) -> None:
    from redcloud_check.core.exit_codes import help_text

    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.epilog = help_text("simulate")
    parser.add_argument("--host", default="127.0.0.1", help="interface (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port; 0 = any free port")
    parser.add_argument("--token-ttl", type=int, default=3600, metavar="S",
                        help="token lifetime in seconds (default 3600)")
    parser.add_argument("--latency-ms", type=int, default=0, metavar="N",
                        help="delay added to every response")
    parser.add_argument("--seed", metavar="FILE", help="seed JSON (default: the docs' values)")
    parser.add_argument("--fault", action="append", default=[], metavar="NAME",
                        help="break one documented rule (repeatable; see --list-faults)")
    parser.add_argument("--allow-webhook-host", action="append", default=[], metavar="HOST",
                        help="deliver webhooks to this non-loopback host too (repeatable)")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME",
                        help="a conformant variation of the docs (repeatable; see "
                             "--list-variants)")
    parser.add_argument("--list-faults", action="store_true", help="list the faults and exit")
    parser.add_argument("--list-variants", action="store_true",
                        help="list the conformant variants and exit")
    keep = parser.add_argument_group(
        "retention", "what the simulator keeps, bounded by count and age (as real APIs expire "
        "idempotency keys), so it runs for hours under load; an age of 0 = no age bound")
    keep.add_argument("--max-messages", type=int, default=MAX_ENTRIES, metavar="N",
                      help=f"messages kept (default {MAX_ENTRIES:,})")
    keep.add_argument("--message-ttl", type=float, default=DAY_S, metavar="S",
                      help=f"seconds a message is kept (default {DAY_S:,.0f})")
    keep.add_argument("--max-idempotency-keys", type=int, default=MAX_ENTRIES, metavar="N",
                      help=f"idempotency records kept (default {MAX_ENTRIES:,})")
    keep.add_argument("--idempotency-ttl", type=float, default=DAY_S, metavar="S",
                      help=f"seconds a send stays replayable by its Idempotency-Key "
                           f"(default {DAY_S:,.0f})")


def retention_options(args: argparse.Namespace) -> dict[str, Any]:
    """The --max-*/--*-ttl options as Simulator keyword arguments (Retention's fields)."""
    return {"max_messages": args.max_messages, "message_ttl_s": args.message_ttl or None,
            "max_idempotency_keys": args.max_idempotency_keys,
            "idempotency_ttl_s": args.idempotency_ttl or None}


def _banner(base_url: str, seed_given: bool) -> list[str]:
    from redcloud_check.simulator.seed import load_seed

    lines = [f"Red Cloud simulator listening on {base_url}"]
    if seed_given:
        return [*lines, "credentials: as in your --seed file"]
    seed = load_seed()
    client = seed.clients[0]
    number = next(n for n in seed.numbers if n.owner == client.client_id)
    # The shipped seed holds the docs' public example values, so they are safe to show.
    return [*lines,
            f"  RC_BASE_URL={base_url}",
            f"  RC_CLIENT_ID={client.client_id}",
            f"  RC_CLIENT_SECRET={client.client_secret}",
            f"  RC_NUMBER_ID={number.number_id}",
            f"  RC_WEBHOOK_SECRET={client.webhook_secret}",
            "  magic recipients: +15005550001 (CARRIER_REJECTED), "
            "+15005550002 (UNREACHABLE_HANDSET)"]


def run(args: argparse.Namespace) -> int:
    """Serve until Ctrl-C or SIGTERM; HandlerError once stopped if code of ours raised while
    serving (the command line makes it exit 7)."""
    from redcloud_check.core.exit_codes import ExitCode

    if args.list_faults:
        print(describe_faults())
        return 0
    if args.list_variants:
        print(describe_variants())
        return 0
    from redcloud_check.simulator.seed import SeedError
    from redcloud_check.simulator.server import Simulator

    try:
        simulator = Simulator(host=args.host, port=args.port, seed=args.seed,
                              faults=validate_faults(args.fault),
                              variants=validate_variants(args.variant),
                              token_ttl=args.token_ttl, latency_ms=args.latency_ms,
                              allow_webhook_hosts=args.allow_webhook_host,
                              **retention_options(args))
    except (ValueError, SeedError) as error:
        print(f"redcloud-check simulate: {error}", file=sys.stderr)
        return int(ExitCode.CONFIG_ERROR)
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%H:%M:%S"))
    log = logging.getLogger("redcloud_check.simulator")
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        simulator.start()
    except RuntimeError as error:  # the port is taken, or the host cannot be bound
        print(f"redcloud-check simulate: {error}", file=sys.stderr)
        return int(ExitCode.CONFIG_ERROR)
    print("\n".join(_banner(simulator.base_url, args.seed is not None)), flush=True)
    if simulator.faults:
        print(f"  faults: {', '.join(sorted(simulator.faults))}", flush=True)
    if simulator.variants:
        print(f"  variants: {', '.join(sorted(simulator.variants))}", flush=True)
    simulator.run_until_signal()  # Ctrl-C or SIGTERM: a graceful stop
    print("simulator stopped", flush=True)
    simulator.check_handler_errors()
    return 0
