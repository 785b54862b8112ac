"""Automatic Persisted Queries (the `extensions.persistedQuery` protocol Apollo and urql
clients speak): a client sends the SHA-256 of its document instead of the document; an
unknown hash is answered with PERSISTED_QUERY_NOT_FOUND, the client then sends document
and hash together, and the document is remembered by its hash.

The store is per process and bounded (least recently used documents go first); a worker
that has not seen a hash simply asks for the document once. Only documents that parsed
and validated are stored, so junk cannot crowd out real ones.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Iterator

from strawberry.extensions import SchemaExtension

from app.api.errors import BadUserInput, TopLevelError, TopLevelErrorCode


class DocumentStore:
    """Documents by the hex SHA-256 of their text, at most `max_documents` of them."""

    def __init__(self, max_documents: int) -> None:
        self.max_documents = max_documents
        self._documents: OrderedDict[str, str] = OrderedDict()

    def get(self, sha256: str) -> str | None:
        document = self._documents.get(sha256)
        if document is not None:
            self._documents.move_to_end(sha256)
        return document

    def put(self, sha256: str, document: str) -> None:
        self._documents[sha256] = document
        self._documents.move_to_end(sha256)
        while len(self._documents) > self.max_documents:
            self._documents.popitem(last=False)

    def __len__(self) -> int:
        return len(self._documents)


def sha256_of(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


class PersistedQueries(SchemaExtension):
    """Resolves `extensions.persistedQuery.sha256Hash` to a document before parsing.
    Build with a factory sharing one store: `lambda: PersistedQueries(store)`."""

    def __init__(self, store: DocumentStore | None) -> None:
        super().__init__()
        self.store = store
        self._remember: str | None = None

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        extensions = getattr(context, "operation_extensions", None) or {}
        persisted = extensions.get("persistedQuery") if isinstance(extensions, dict) else None
        if persisted is not None:
            self._resolve(persisted)
        yield
        if self._remember and context.graphql_document is not None and not context.pre_execution_errors:
            self.store.put(self._remember, context.query)

    def _resolve(self, persisted: object) -> None:
        context = self.execution_context
        if self.store is None or self.store.max_documents == 0:
            raise TopLevelError("PersistedQueryNotSupported", TopLevelErrorCode.PERSISTED_QUERY_NOT_SUPPORTED)
        sha = persisted.get("sha256Hash") if isinstance(persisted, dict) else None
        version = persisted.get("version", 1) if isinstance(persisted, dict) else None
        if version != 1 or not isinstance(sha, str) or len(sha) != 64:
            raise BadUserInput("persistedQuery must be {\"version\": 1, \"sha256Hash\": \"<64 hex digits>\"}.")
        sha = sha.lower()
        if context.query:
            if sha256_of(context.query) != sha:
                raise BadUserInput("provided sha does not match query")
            if self.store.get(sha) is None:
                self._remember = sha
            return
        document = self.store.get(sha)
        if document is None:
            raise TopLevelError("PersistedQueryNotFound", TopLevelErrorCode.PERSISTED_QUERY_NOT_FOUND)
        context.query = document
