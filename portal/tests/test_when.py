"""One date-time format: "2 Dec 2026, 13:27 UTC" in the user's zone, relative time on hover, ISO in `datetime`."""

from __future__ import annotations

import zoneinfo
from datetime import UTC, datetime, timedelta

import pytest
from django.template import Context, Template
from django.utils import timezone

from portal.web.when import relative

MOMENT = datetime(2026, 12, 2, 13, 27, 45, 123456, tzinfo=UTC)


def render(source: str, **values: object) -> str:
    return Template(source).render(Context(values))


def test_the_format_in_utc_and_in_the_users_zone() -> None:
    with timezone.override(UTC):
        html = render("{{ t|when }}", t=MOMENT)
    assert ">2 Dec 2026, 13:27 UTC</time>" in html
    assert 'datetime="2026-12-02T13:27:45Z"' in html  # ISO 8601, seconds, no microseconds
    with timezone.override(zoneinfo.ZoneInfo("Europe/Paris")):
        assert ">2 Dec 2026, 14:27 CET</time>" in render("{{ t|when }}", t=MOMENT)
        assert render("{{ t|when_text }}", t=MOMENT) == "2 Dec 2026, 13:27 UTC"  # mails: UTC
        assert render("{{ t|when_date }}", t=MOMENT) == '<time datetime="2026-12-02">2 Dec 2026</time>'
    assert render("{{ t|when }}|{{ t|when_date }}", t=None) == "|"


@pytest.mark.parametrize(
    ("delta", "words"),
    [
        (timedelta(seconds=10), "just now"),
        (timedelta(minutes=5), "5 min ago"),
        (timedelta(hours=3, minutes=59), "3 h ago"),
        (timedelta(days=2), "2 d ago"),
        (timedelta(days=65), "2 mo ago"),
        (timedelta(days=800), "2 y ago"),
        (-timedelta(hours=2), "in 2 h"),
    ],
)
def test_relative_time(delta: timedelta, words: str) -> None:
    assert relative(MOMENT - delta, now=MOMENT) == words


def test_the_admin_uses_the_same_format() -> None:
    from django.utils import formats

    with timezone.override(UTC):
        assert formats.date_format(MOMENT, "DATETIME_FORMAT") == "2 Dec 2026, 13:27 UTC"
        assert formats.localize(MOMENT.date()) == "2 Dec 2026"
