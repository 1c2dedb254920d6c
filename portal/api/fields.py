"""Serializer fields with the portal's text rules (portal.text), for every API serializer."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from portal import text


class SingleLineField(serializers.CharField):
    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        error = text.single_line_error(value)
        if error:
            raise serializers.ValidationError(error)
        return value


class MultiLineField(serializers.CharField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        error = text.multi_line_error(value)
        if error:
            raise serializers.ValidationError(error)
        return value


class BoundedIntegerField(serializers.IntegerField):
    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", text.INT_MIN)
        kwargs.setdefault("max_value", text.INT_MAX)
        super().__init__(**kwargs)
