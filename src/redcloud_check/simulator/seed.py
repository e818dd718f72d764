"""Seed data: API clients, their numbers and the searchable inventory, read from JSON.

The default is the ``seed.json`` shipped next to this module (the docs' canonical values).
A seed is validated on load; any problem raises ``SeedError`` naming the JSON path, e.g.
``seed: clients[0].clientSecret: expected a string``.

Shape::

    {"clients":   [{clientId, clientSecret, name, status, capabilities[], webhookSecret,
                    inboundWebhookUrl|null, deliveryWebhookUrl|null}],
     "numbers":   [{numberId, owner (a clientId), e164, status, campaignRegId|null,
                    smsEnabled, mmsEnabled, webhookInboundOverride|null,
                    webhookDeliveryOverride|null}],
     "inventory": [{npa, nxx, city, state, zipCode, rateCenter, count}]}   (optional)
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from redcloud_check.core.e164 import is_e164

DEFAULT_SEED = Path(__file__).with_name("seed.json")


class SeedError(ValueError):
    """The seed file is missing, not JSON, or does not have the documented shape."""


@dataclass(frozen=True, slots=True)
class Client:
    """An API client. Secrets are kept out of repr so they never reach a log."""

    client_id: str
    client_secret: str = field(repr=False)
    name: str
    status: str
    capabilities: tuple[str, ...]
    webhook_secret: str = field(repr=False)
    inbound_webhook_url: str | None
    delivery_webhook_url: str | None


@dataclass(slots=True)
class Number:
    """An assigned number; mutable because PATCH changes it."""

    number_id: str
    owner: str
    e164: str
    status: str
    campaign_reg_id: str | None
    sms_enabled: bool
    mms_enabled: bool
    webhook_inbound_override: str | None
    webhook_delivery_override: str | None

    def as_json(self) -> dict[str, Any]:
        """The documented number object (numbers list entry and PATCH response)."""
        return {
            "numberId": self.number_id,
            "e164": self.e164,
            "status": self.status,
            "campaignRegId": self.campaign_reg_id,
            "smsEnabled": self.sms_enabled,
            "mmsEnabled": self.mms_enabled,
            "webhookInboundOverride": self.webhook_inbound_override,
            "webhookDeliveryOverride": self.webhook_delivery_override,
        }


@dataclass(frozen=True, slots=True)
class InventoryGroup:
    """Available numbers sharing one NPA-NXX and rate center."""

    npa: str
    nxx: str
    city: str
    state: str
    zip_code: str
    rate_center: str
    count: int


@dataclass(frozen=True, slots=True)
class Seed:
    clients: tuple[Client, ...]
    numbers: tuple[Number, ...]
    inventory: tuple[InventoryGroup, ...]


class _Reader:
    """Typed field access on one JSON object, with errors naming the path."""

    def __init__(self, obj: Any, path: str) -> None:
        if not isinstance(obj, dict):
            raise SeedError(f"seed: {path}: expected an object")
        self.obj = obj
        self.path = path

    def _get(self, key: str, kinds: tuple[type, ...], what: str, nullable: bool) -> Any:
        if key not in self.obj:
            raise SeedError(f"seed: {self.path}.{key}: missing")
        value = self.obj[key]
        if value is None and nullable:
            return None
        if not isinstance(value, kinds) or (bool not in kinds and isinstance(value, bool)):
            raise SeedError(f"seed: {self.path}.{key}: expected {what}, got {value!r}")
        return value

    def text(self, key: str) -> str:
        return str(self._get(key, (str,), "a string", False))

    def optional_text(self, key: str) -> str | None:
        value = self._get(key, (str,), "a string or null", True)
        return None if value is None else str(value)

    def flag(self, key: str) -> bool:
        return bool(self._get(key, (bool,), "true or false", False))

    def count(self, key: str) -> int:
        value = int(self._get(key, (int,), "an integer", False))
        if not 0 <= value <= 9999:
            raise SeedError(f"seed: {self.path}.{key}: expected 0..9999, got {value}")
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        value = self._get(key, (list,), "a list of strings", False)
        if not all(isinstance(v, str) for v in value):
            raise SeedError(f"seed: {self.path}.{key}: expected a list of strings")
        return tuple(value)


def _items(data: dict[str, Any], key: str, required: bool) -> list[_Reader]:
    value = data.get(key, None if required else [])
    if not isinstance(value, list):
        raise SeedError(f"seed: {key}: expected a list")
    return [_Reader(item, f"{key}[{i}]") for i, item in enumerate(value)]


def _client(r: _Reader) -> Client:
    return Client(client_id=r.text("clientId"), client_secret=r.text("clientSecret"),
                  name=r.text("name"), status=r.text("status"),
                  capabilities=r.strings("capabilities"), webhook_secret=r.text("webhookSecret"),
                  inbound_webhook_url=r.optional_text("inboundWebhookUrl"),
                  delivery_webhook_url=r.optional_text("deliveryWebhookUrl"))


def _number(r: _Reader, owners: set[str]) -> Number:
    number = Number(number_id=r.text("numberId"), owner=r.text("owner"), e164=r.text("e164"),
                    status=r.text("status"), campaign_reg_id=r.optional_text("campaignRegId"),
                    sms_enabled=r.flag("smsEnabled"), mms_enabled=r.flag("mmsEnabled"),
                    webhook_inbound_override=r.optional_text("webhookInboundOverride"),
                    webhook_delivery_override=r.optional_text("webhookDeliveryOverride"))
    if number.owner not in owners:
        raise SeedError(f"seed: {r.path}.owner: no client {number.owner!r}")
    if not is_e164(number.e164):
        raise SeedError(f"seed: {r.path}.e164: not an E.164 number: {number.e164!r}")
    return number


def _group(r: _Reader) -> InventoryGroup:
    return InventoryGroup(npa=r.text("npa"), nxx=r.text("nxx"), city=r.text("city"),
                          state=r.text("state"), zip_code=r.text("zipCode"),
                          rate_center=r.text("rateCenter"), count=r.count("count"))


def _unique(values: list[str], what: str) -> None:
    seen: set[str] = set()
    for value in values:
        if value in seen:
            raise SeedError(f"seed: duplicate {what} {value!r}")
        seen.add(value)


def parse_seed(data: Any) -> Seed:
    """A validated Seed from already-decoded JSON data."""
    if not isinstance(data, dict):
        raise SeedError("seed: expected a JSON object with clients and numbers")
    clients = [_client(r) for r in _items(data, "clients", True)]
    if not clients:
        raise SeedError("seed: clients: at least one client is required")
    _unique([c.client_id for c in clients], "clientId")
    owners = {c.client_id for c in clients}
    numbers = [_number(r, owners) for r in _items(data, "numbers", True)]
    _unique([n.number_id for n in numbers], "numberId")
    inventory = [_group(r) for r in _items(data, "inventory", False)]
    return Seed(tuple(clients), tuple(numbers), tuple(inventory))


def load_seed(source: str | Path | dict[str, Any] | None = None) -> Seed:
    """The seed from a path, an already-decoded dict, or the shipped default (None)."""
    if isinstance(source, dict):
        return parse_seed(source)
    path = Path(source) if source is not None else DEFAULT_SEED
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise SeedError(f"seed: cannot read {path}: {error.strerror or error}") from error
    except ValueError as error:
        raise SeedError(f"seed: {path} is not valid JSON: {error}") from error
    return parse_seed(data)
