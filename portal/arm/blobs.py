"""Reading a storage account's blobs with the connection's own credential (a bearer token for
https://storage.azure.com, AZURE.md §7.5): never an account key. The principal needs a data role on the account,
e.g. Storage Blob Data Reader.

`BlobReader` is what accesslogs.cursor calls a BlobSource: the sizes of the blobs under a prefix, and a blob's bytes
from an offset. Every Azure exception leaves it as one of portal.arm.errors.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from portal.arm.operations import _translate
from portal.arm.session import CONNECT_TIMEOUT, READ_TIMEOUT, ConnectionConfig, get_session


class BlobReader:
    def __init__(self, config: ConnectionConfig, blob_endpoint: str, container: str) -> None:
        from azure.storage.blob import ContainerClient

        self.endpoint = blob_endpoint.rstrip("/")
        self.container = container
        self.calls = 0
        self._client: Any = ContainerClient(
            account_url=self.endpoint,
            container_name=container,
            credential=get_session(config).credential,
            retry_total=3,
            connection_timeout=CONNECT_TIMEOUT,
            read_timeout=READ_TIMEOUT,
        )

    def sizes(self, prefix: str) -> Iterator[tuple[str, int]]:
        """(name, size) of the blobs whose name starts with `prefix`; none while the container does not exist (Azure
        Monitor creates it at the first event)."""
        from azure.core.exceptions import ResourceNotFoundError

        self.calls += 1
        try:
            listed = [
                (blob.name, int(blob.size or 0)) for blob in self._client.list_blobs(name_starts_with=prefix)
            ]
        except ResourceNotFoundError:
            return iter(())
        except Exception as exc:
            raise _translate(exc) from exc
        return iter(listed)

    def read(self, name: str, offset: int, length: int | None = None) -> bytes:
        self.calls += 1
        try:
            data: bytes = self._client.download_blob(name, offset=offset, length=length).readall()
        except Exception as exc:
            raise _translate(exc) from exc
        return data
