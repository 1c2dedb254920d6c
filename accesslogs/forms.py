"""The access-log page's input (STYLE rule 11): the storage account picked for a vault's logs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django import forms

from accesslogs.models import StorageAccount


class StorageAccountForm(forms.Form):
    """One of the storage accounts ARM listed for the vault's subscription and region (its id here)."""

    storage_account = forms.ChoiceField(label="Storage account")

    def __init__(self, data: Mapping[str, Any] | None, accounts: list[StorageAccount]) -> None:
        super().__init__(data)
        field = self.fields["storage_account"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(str(a.pk), a.name) for a in accounts]
        field.error_messages["invalid_choice"] = (
            "Pick one of the storage accounts listed for the vault's region."
        )
