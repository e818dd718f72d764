"""The cross-examination rules: what disagrees, and how it is graded."""

from __future__ import annotations

import json

from redcloud_check.core.exchange import Exchange, Timings
from redcloud_check.rules.consistency import (
    Mismatch,
    assigned_counts,
    body_request_id,
    compare_counts,
    field_changes,
    header_request_id,
    nanp,
    search_mismatches,
    search_numbers,
    shared_ids,
)

NUMBERS = [{"numberId": "num_a", "smsEnabled": True, "mmsEnabled": True},
           {"numberId": "num_b", "smsEnabled": True, "mmsEnabled": False}]


def _exchange(body: object, headers: dict[str, str] | None = None) -> Exchange:
    return Exchange("GET", "http://127.0.0.1/api/core/whoami", {}, None, 0.0, Timings(0.0),
                    status=401, response_headers=headers or {},
                    response_body=json.dumps(body).encode())


def test_field_changes_names_each_differing_field_with_both_values() -> None:
    before = {"smsEnabled": True, "campaignRegId": "A1B2C3", "status": "ACTIVE"}
    after = {"smsEnabled": True, "campaignRegId": None, "status": "ACTIVE"}
    assert field_changes(before, after, ("smsEnabled", "campaignRegId", "status")) == (
        Mismatch("campaignRegId", "A1B2C3", None),)
    assert field_changes(before, dict(before), before) == ()


def test_whoami_counting_fewer_than_the_list_fails_and_more_only_warns() -> None:
    listed = assigned_counts(NUMBERS)
    assert listed == {"total": 2, "smsEnabledCount": 2, "mmsEnabledCount": 1}
    assert compare_counts(listed, listed).failures == ()
    fewer = compare_counts({"total": 1, "smsEnabledCount": 2, "mmsEnabledCount": 1}, listed)
    assert fewer.failures == (Mismatch("total", 2, 1),) and fewer.warnings == ()
    more = compare_counts({"total": 3, "smsEnabledCount": 2, "mmsEnabledCount": 1}, listed)
    assert more.failures == () and more.warnings == (Mismatch("total", 2, 3),)


def test_a_missing_or_non_integer_count_is_a_contradiction() -> None:
    found = compare_counts({"total": "2", "smsEnabledCount": 2}, assigned_counts(NUMBERS))
    assert [m.field for m in found.failures] == ["total", "mmsEnabledCount"]


def test_smsenabled_that_is_not_the_boolean_true_is_not_counted() -> None:
    assert assigned_counts([{"smsEnabled": "true", "mmsEnabled": 1}]) == {
        "total": 1, "smsEnabledCount": 0, "mmsEnabledCount": 0}


def test_nanp_splits_plus_one_numbers_only() -> None:
    assert nanp("+15552010101") == ("555", "201")
    assert nanp("+442071234567") is None
    assert nanp("5552010101") is None
    assert nanp("+1555201010") is None


def test_search_numbers_finds_e164_values_and_lists_in_any_group_field() -> None:
    body = {"groups": [{"numbers": ["+15552010101", "x"], "sample": "+15552020202"},
                       "not a group", {"count": 3}]}
    assert search_numbers(body) == ["+15552010101", "+15552020202"]
    assert search_numbers([]) == [] and search_numbers({"groups": None}) == []


def test_a_numbering_contradiction_fails_and_a_location_spelling_only_warns() -> None:
    body = {"groups": [
        {"npa": "555", "nxx": "201", "city": "AUSTIN", "state": "Texas",
         "numbers": ["+15552010101"]},
        {"npa": "212", "nxx": "555", "city": "New York", "numbers": ["+12125550101"]},
    ]}
    found = search_mismatches({"npa": "555", "city": "Austin", "state": "TX"}, body)
    assert [m.field for m in found.failures] == ["groups[1].npa",
                                                 "groups[1] number +12125550101 (npa)"]
    assert [m.describe() for m in found.warnings] == [
        "groups[0].state: 'TX' vs 'Texas'", "groups[1].city: 'Austin' vs 'New York'"]


def test_a_group_without_filter_fields_or_numbers_has_nothing_to_contradict() -> None:
    found = search_mismatches({"npa": "555", "nxx": "201"}, {"groups": [{"count": 4}]})
    assert found.failures == () and found.warnings == ()
    narrow = search_mismatches({"npa": "555", "nxx": "201"},
                               {"groups": [{"numbers": ["+15552020101"]}]})
    assert narrow.failures == (Mismatch("groups[0] number +15552020101 (nxx)", "201", "202"),)


def test_request_ids_are_read_from_the_core_wrapper_and_the_header_apart() -> None:
    wrapped = _exchange({"error": {"code": "UNAUTHORIZED"}, "requestId": "req_1"},
                        {"X-Request-Id": "req_h"})
    assert (body_request_id(wrapped), header_request_id(wrapped)) == ("req_1", "req_h")
    oauth = _exchange({"error": "invalid_client", "requestId": "req_2"})
    assert (body_request_id(oauth), header_request_id(oauth)) == (None, None)


def test_shared_ids_are_ids_given_to_two_operations_not_one_seen_twice() -> None:
    pairs = [("msg_1", ("key_a", "+1")), ("msg_1", ("key_a", "+1")),  # a replay
             ("msg_2", ("key_b", "+1")), ("msg_2", ("key_c", "+1"))]
    assert shared_ids(pairs) == {"msg_2": (("key_b", "+1"), ("key_c", "+1"))}
