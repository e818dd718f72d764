"""HTML fragments for report.html, rendered from the (redacted) JSON data; never from logs.

Every piece of text goes through `html.escape`; charts are inline SVG, so the report stays
self-contained. Public surface: `STYLE`, `bundle_html`, `first_failure_html`, `timeline_svg`
(with its label layout, `label_lanes` / `label_width`), `latency_svg`, `stage_summary_html`,
`warnings_html`, `delivery_behaviour_html`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from redcloud_check.reporting.diagnosis import guide_rows, lead_of

__all__ = ["STYLE", "bundle_html", "delivery_behaviour_html", "first_failure_html",
           "label_lanes", "label_width", "latency_svg", "stage_summary_html", "timeline_svg",
           "warnings_html"]

STYLE = """<style>
.rc-bundle{border-left:4px solid #c0392b;padding:4px 12px;margin:6px 0;font-size:13px}
.rc-bundle h4{margin:4px 0}
.rc-fields{display:grid;grid-template-columns:max-content auto;gap:2px 12px;margin:6px 0}
.rc-fields dt{font-weight:bold}.rc-fields dd{margin:0}
.rc-request-id code{font-size:15px;background:#fff3cd;padding:1px 4px}
.rc-diagnosis{background:#f4f6f8;padding:6px 10px;margin:6px 0}
.rc-bundle pre,.rc-timeline pre{white-space:pre-wrap;background:#f8f8f8;padding:6px;margin:2px 0}
.rc-stages td,.rc-stages th{padding:2px 8px;text-align:left}
.rc-v-passed{color:#1e7e34}.rc-v-failed{color:#c0392b;font-weight:bold}
.rc-v-blocked{color:#b7791f;font-weight:bold}.rc-v-skipped,.rc-v-not_run{color:#6c757d}
.rc-verdict{padding:8px 14px;margin:8px 0;border-radius:4px;font-size:15px}
.rc-verdict p{margin:4px 0}.rc-verdict-line{font-size:17px}
.rc-verdict-ok{background:#d4edda;border:1px solid #1e7e34}
.rc-verdict-warn{background:#fff3cd;border:1px solid #b7791f}
.rc-verdict-bad{background:#f8d7da;border:1px solid #c0392b}
body{display:flex;flex-direction:column}
body>#title{order:-3}body>p:first-of-type{order:-2}body>.summary{order:-1}
</style>"""
# The page opens on the verdict: pytest-html puts its Environment table above the summary;
# the flex order above keeps the title and the "generated" line first, then the summary
# (verdict, first failure's bundle, stages ... latency chart), then Environment and the
# results table. Only the order changes; every element stays in the page.


def _e(value: Any) -> str:
    return escape("—" if value is None or value == "" else str(value), quote=True)


def _yes_no(value: Any) -> str:
    return {True: "yes", False: "no"}.get(value, "unknown")


def _field(name: str, value_html: str, cls: str = "") -> str:
    attr = f' class="{cls}"' if cls else ""
    return f"<dt>{escape(name)}</dt><dd{attr}>{value_html}</dd>"


def _list(items: Sequence[Any]) -> str:
    return "<ul>" + "".join(f"<li>{_e(i)}</li>" for i in items) + "</ul>"


def _exchange_html(ex: Mapping[str, Any]) -> str:
    req_headers = "\n".join(f"{k}: {v}" for k, v in ex["request_headers"].items())
    resp_headers = "\n".join(f"{k}: {v}" for k, v in ex["response_headers"].items())
    status = ex["status"] if ex["status"] is not None else f"no answer ({ex['error_kind']})"
    total = ex["timings_ms"].get("total")
    parts = [f"<h5>{_e(ex['method'])} {_e(ex['url'])} → {_e(status)} "
             f"<small>{_e(ex['label'])} · {_e(ex['started_at'])} · {_e(total)} ms</small></h5>",
             f"<pre>{_e(req_headers)}</pre>"]
    if ex.get("request_body"):
        parts.append(f"<pre>{_e(ex['request_body'])}</pre>")
    if ex.get("error"):
        parts.append(f"<p>Transport error: {_e(ex['error'])}</p>")
    else:
        parts.append(f"<pre>{_e(resp_headers)}</pre>")
        if ex.get("response_body"):
            parts.append(f"<pre>{_e(ex['response_body'])}</pre>")
    return "<div class=\"rc-exchange\">" + "".join(parts) + "</div>"


def bundle_html(bundle: Mapping[str, Any]) -> str:
    """One failed check's bundle: escalation fields, diagnosis, curl, exchanges."""
    check, esc, diag = bundle["check"], bundle["escalation"], bundle["diagnosis"]
    status = _e(esc["http_status"]) + (f" {_e(esc['error_code'])}" if esc["error_code"] else "")
    age = esc.get("token_age_s")
    token = _yes_no(esc.get("token_fresh")) + (f" (age {age:g} s)" if age is not None else "")
    shape = esc.get("payload_shape")
    fields = "".join([
        _field("requestId", f"<code>{_e(esc['requestId'])}</code>", "rc-request-id"),
        _field("traceparent", f"<code>{_e(esc.get('traceparent'))}</code>", "rc-traceparent"),
        _field("Endpoint", f"{_e(esc['endpoint'])} <small>{_e(esc['url'])}</small>"),
        _field("HTTP status", status),
        _field("The API said", f"<q>{_e(esc.get('api_said'))}</q>"),
        _field("Request time (UTC)", _e(esc["request_timestamp"])),
        _field("Token freshly acquired", _e(token)),
        _field("Reproduces", _e(esc["reproduces"]["note"])),
        _field("messageId", f"<code>{_e(esc['messageId'])}</code>"),
        _field("Headers sent", _e(", ".join(esc["request_header_names"]))),
        _field("Payload shape", "<pre>" + _e(json.dumps(shape, indent=2)
                                              if shape is not None else None) + "</pre>"),
    ])
    rule = _e(check.get("statement")) + " — " + _e(bundle.get("failure_clause")
                                                   or check.get("clause"))
    lead = lead_of(diag)
    found = "Found" if lead["source"] == "finding" else "Likely"
    diagnosis = (
        f'<div class="rc-diagnosis"><p class="rc-lead" data-cause="{_e(lead["cause"])}">'
        f'<b>Cause: <code>{_e(lead["cause"])}</code></b><br>'
        f"<b>{found}: {_e(lead['summary'])}</b><br>"
        f"<b>Next:</b> {_e(lead['next_action'])} <small>({_e(lead['reference'])})</small></p>"
        f"<b>Guide: {_e(diag['symptom'])}</b> <small>({_e(diag['section'])})</small>"
        + "".join(f"<p><b>{_e(label)}:</b> {_e(text)}</p>" for label, text in guide_rows(diag))
        + "</div>")
    curl = (f"<p>Reproduce:</p><pre class=\"rc-curl\">{_e(bundle['curl'])}</pre>"
            if bundle.get("curl") else "")
    exchanges = "".join(_exchange_html(ex) for ex in bundle["exchanges"])
    return (
        f'<div class="rc-bundle" data-nodeid="{_e(check["nodeid"])}" '
        f'data-check-id="{_e(bundle.get("checkId"))}">'
        f"<h4><code>{_e(bundle.get('checkId'))}</code> {_e(bundle['title'])}</h4>"
        f"<p class=\"rc-rule\">{rule}</p>"
        f"<p><b>Expected:</b> {_e(bundle['expected'])}<br><b>Actual:</b> "
        f"{_e(bundle['actual'])}</p><dl class=\"rc-fields\">{fields}</dl>{diagnosis}{curl}"
        f"<details><summary>Exchanges ({len(bundle['exchanges'])})</summary>{exchanges}"
        "</details></div>")


LABEL_FONT_PX = 10
LABEL_CHAR_EM = 0.62  # wider than Helvetica's / DejaVu Sans's average glyph: boxes err wide
LABEL_LANE_PX = 14  # one lane of labels: the font size plus 4 px
LABEL_GAP_PX = 6


def label_width(text: str, font_px: float = LABEL_FONT_PX) -> float:
    """The width a label may take, estimated on the wide side (the layout never measures)."""
    return len(text) * font_px * LABEL_CHAR_EM + 2


def label_lanes(centers: Sequence[float], widths: Sequence[float], width: float,
                gap: float = LABEL_GAP_PX) -> list[tuple[float, int]]:
    """(center x, lane) for each label: kept inside [0, width], and placed left to right in
    the first lane whose last label ends `gap` before it starts, else in a new lane; so no
    two labels' boxes overlap however close their marks are."""
    placed: list[tuple[float, int]] = [(0.0, 0)] * len(centers)
    ends: list[float] = []  # per lane: the right edge of its last label
    for i in sorted(range(len(centers)), key=lambda k: centers[k]):
        half = widths[i] / 2
        x = min(max(centers[i], half), max(width - half, half))
        lane = next((n for n, end in enumerate(ends) if end + gap <= x - half), len(ends))
        if lane == len(ends):
            ends.append(0.0)
        ends[lane] = x + half
        placed[i] = (x, lane)
    return placed


def timeline_svg(events: Sequence[Mapping[str, Any]], message_id: str) -> str:
    """Lifecycle events of one message as marks on a time axis (ms since the send). Each mark
    has one label (event, sequence, offset; ✗ when unverified) in lanes that never overlap
    (`label_lanes`); a burst of deliveries stacks its labels, and the chart grows to fit."""
    width, left, right, top = 640, 20, 20, 14
    offsets = [float(e.get("offset_ms") or 0) for e in events]
    low = min([0.0, *offsets])
    span = max([*offsets, low + 1.0]) - low
    xs = [left + (width - left - right) * (offset - low) / span for offset in offsets]
    labels = []
    for ev, offset in zip(events, offsets, strict=True):
        name = (f"{ev['eventType']} #{ev.get('sequence')}" if ev.get("eventType")
                else "unattributed request")
        labels.append((name, f"{name}{'' if ev.get('verified') else ' ✗'} {offset:+.0f} ms"))
    placed = label_lanes(xs, [label_width(text) for _, text in labels], width)
    lanes = max((lane for _, lane in placed), default=0) + 1
    axis_y = top + LABEL_LANE_PX * lanes + 8
    marks = []
    for ev, offset, x, (name, text), (tx, lane) in zip(events, offsets, xs, labels, placed,
                                                       strict=True):
        verified = bool(ev.get("verified"))
        fill = "#1e7e34" if verified else "white"
        stroke = "#1e7e34" if verified else "#c0392b"
        tip = f"{name} at {offset:+.0f} ms" + ("" if verified else " (UNVERIFIED)")
        if ev.get("note"):
            tip += f": {ev['note']}"
        ty = top + LABEL_LANE_PX * lane + LABEL_FONT_PX
        marks.append(
            f'<g><title>{_e(tip)}</title><line x1="{x:.1f}" y1="{ty + 3}" x2="{x:.1f}" '
            f'y2="{axis_y}" stroke="#999" stroke-dasharray="2,2"/>'
            f'<circle cx="{x:.1f}" cy="{axis_y}" r="5" fill="{fill}" stroke="{stroke}" '
            f'stroke-width="2"/><text class="rc-timeline-label" x="{tx:.1f}" y="{ty}" '
            f'font-size="{LABEL_FONT_PX}" text-anchor="middle">{_e(text)}</text></g>')
    svg = (f'<svg class="rc-timeline-svg" xmlns="http://www.w3.org/2000/svg" width="{width}" '
           f'height="{axis_y + 12}" role="img" aria-label="lifecycle of {_e(message_id)}">'
           f'<line x1="{left}" y1="{axis_y}" x2="{width - right}" y2="{axis_y}" '
           f'stroke="#333"/>{"".join(marks)}</svg>')
    rows = "".join(
        f"<li>{float(e.get('offset_ms') or 0):+.0f} ms {_e(e.get('eventType'))} "
        f"(sequence {_e(e.get('sequence'))}, "
        f"{'verified' if e.get('verified') else 'UNVERIFIED'})"
        + (f" — {_e(e['note'])}" if e.get("note") else "") + "</li>" for e in events)
    empty = "" if events else "<p>No lifecycle event was received for this message.</p>"
    return (f'<div class="rc-timeline"><p>Lifecycle of <code>{_e(message_id)}</code> '
            f"({len(events)} events; ✗ = signature not verified)</p>{svg}{empty}"
            f"<ol>{rows}</ol></div>")


def latency_svg(rows: Sequence[tuple[str, str, float]], limit: int = 200) -> str:
    """Horizontal bars of each exchange's total time (ms), grouped by stage."""
    rows = list(rows)[:limit]
    if not rows:
        return "<p>No exchange was recorded.</p>"
    longest = max(ms for _, _, ms in rows) or 1.0
    width, label_w, bar_w, line = 760, 330, 340, 14
    y, parts, current = 0, [], None
    for stage, label, ms in rows:
        if stage != current:
            current = stage
            y += line + 4
            parts.append(f'<text x="0" y="{y}" font-size="11" font-weight="bold">'
                         f"{_e(stage)}</text>")
        y += line
        w = max(1.0, bar_w * ms / longest)
        parts.append(
            f'<g><title>{_e(label)}: {ms:.1f} ms</title>'
            f'<text x="8" y="{y}" font-size="10">{_e(label[:60])}</text>'
            f'<rect x="{label_w}" y="{y - 10}" width="{w:.1f}" height="10" fill="#4a7fb5"/>'
            f'<text x="{label_w + w + 4:.1f}" y="{y}" font-size="10">{ms:.1f} ms</text></g>')
    return (f'<svg class="rc-latency" xmlns="http://www.w3.org/2000/svg" width="{width}" '
            f'height="{y + 6}" role="img" aria-label="latency per exchange">'
            f'{"".join(parts)}</svg>')


def first_failure_html(bundles: Sequence[Mapping[str, Any]]) -> str:
    """The first failure's bundle (the run's first failed check) and its lifecycle
    timelines, right under the verdict: what to read or send first. Empty when nothing
    failed."""
    if not bundles:
        return ""
    timelines = "".join(timeline_svg(t["events"], t["messageId"])
                        for t in bundles[0].get("timeline") or ())
    return ('<div class="rc-first-failure"><h3>First failure</h3>'
            f"{bundle_html(bundles[0])}{timelines}</div>")


def stage_summary_html(summary: Mapping[str, Any]) -> str:
    """The per-stage verdict table, with what blocked what."""
    rows = []
    for s in summary["stages"]:
        c = s["counts"]
        note = s.get("reason") or (f"gate failed: {s['gate_failed']}" if s.get("gate_failed")
                                   else "")
        rows.append(
            f"<tr><td>{_e(s['title'])}</td><td class=\"rc-v-{_e(s['verdict'])}\">"
            f"{_e(s['verdict'])}</td><td>{c['passed']} passed, {c['failed']} failed, "
            f"{c['blocked']} blocked, {c['skipped']} skipped</td><td>{_e(note or None)}</td></tr>")
    head = f"<p><b>Verdict: {_e(summary['verdict'])}</b>"
    if summary.get("unreachable"):
        head += f" — target unreachable: {_e(summary['unreachable'])}"
    if summary.get("misrouted"):
        head += f" — webhooks misrouted: {_e(summary['misrouted'])}"
    return (f"<div class=\"rc-summary\"><h3>Stages</h3>{head}</p><table class=\"rc-stages\">"
            "<tr><th>stage</th><th>verdict</th><th>checks</th><th>note</th></tr>"
            f"{''.join(rows)}</table></div>")


def warnings_html(warnings: Sequence[Mapping[str, Any]]) -> str:
    if not warnings:
        return "<div class=\"rc-warnings\"><h3>Warnings</h3><p>None.</p></div>"
    items = "".join(
        f"<li><b>{_e(w['title'])}</b> — {_e(w['detail'])} <small>({_e(w['clause'])}; "
        f"{_e(w.get('check'))})</small></li>" for w in warnings)
    return (f"<div class=\"rc-warnings\"><h3>Warnings ({len(warnings)})</h3>"
            "<p>Not failures: the docs do not state these.</p>"
            f"<ul>{items}</ul></div>")


def delivery_behaviour_html(semantics: Mapping[str, Any] | None) -> str:
    """"Delivery behaviour observed" (RC_DELIVERY_SEMANTICS runs only; "" otherwise)."""
    if not semantics:
        return ""
    from redcloud_check.reporting.webhook_evidence import behaviour_rows
    from redcloud_check.webhooks.delivery_semantics import TITLE, describe

    rows = "".join(_field(name, _e(value)) for name, value in behaviour_rows(semantics))
    return (f'<div class="rc-delivery-behaviour"><h3>{escape(TITLE)}</h3>'
            f'<p>{_e(describe(semantics))}</p><dl class="rc-fields">{rows}</dl></div>')
