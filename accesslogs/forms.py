"""The access-log page's input (STYLE rule 11): the storage account picked for a vault's logs."""

from __future__ import annotations

from django import forms


class StorageAccountForm(forms.Form):
    """One of the storage accounts ARM listed for the vault's subscription and region (its ARM id)."""

    storage_account = forms.ChoiceField(label="Storage account")

    def __init__(self, data: object, accounts: list[dict[str, object]]) -> None:
        super().__init__(data)  # type: ignore[arg-type]
        field = self.fields["storage_account"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = [(str(a["id"]), str(a["name"])) for a in accounts]
        field.error_messages["invalid_choice"] = (
            "Pick one of the storage accounts listed for the vault's region."
        )
