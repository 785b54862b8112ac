"""The last check before an email enters the outbox: the message text, parsed back, says
what was built, and only that.

`compose` keeps the `MessageShape` of the message it built (in memory, from our own
values); `differences` parses the serialized text with `email.parser` (policy.default) and
compares the two shapes. Any way the text went wrong on its way out of the email package
shows up here: a header that was not built (a `Reply-To` smuggled in through a display
name or a subject on a CPython with CVE-2024-6923), a header value that changed, a part
more or less, a body that is not the one rendered. The caller refuses such a message
instead of sending it.
"""

from __future__ import annotations

import email.parser
import email.policy
from dataclasses import dataclass
from email.headerregistry import HeaderRegistry
from email.message import EmailMessage, Message
from typing import Any

# A header's value as compared: addresses as (display name, address) pairs, other values
# as text. Whitespace is left out of the comparison because folding a long header is
# allowed to move it (CPython even splits a very long word of a display name into two);
# an attacker gains nothing from whitespace alone, and anything else counts.
HeaderValue = tuple[tuple[str, str], ...] | str


@dataclass(frozen=True)
class PartShape:
    content_type: str
    # Content-Type parameters but the boundary (which the generator picks), sorted.
    params: tuple[tuple[str, str], ...]
    # Names of the part's own headers, in order (lowercase).
    header_names: tuple[str, ...]
    filename: str | None
    # The decoded content, line ends as LF; None for a multipart container.
    content: str | bytes | None


@dataclass(frozen=True)
class MessageShape:
    """What a message says: its top-level headers in order, and every part of its MIME
    tree in walk order."""

    headers: tuple[tuple[str, HeaderValue], ...]
    parts: tuple[PartShape, ...]


def _squeeze(text: str) -> str:
    return "".join(text.split())


def _header_value(value: object) -> HeaderValue:
    addresses = getattr(value, "addresses", None)
    if addresses is not None:
        return tuple((_squeeze(a.display_name), a.addr_spec) for a in addresses)
    return _squeeze(str(value))


def _content(part: Message) -> str | bytes | None:
    if part.is_multipart():
        return None
    content = part.get_content() if isinstance(part, EmailMessage) else part.get_payload(decode=True)
    if isinstance(content, str):
        return content.replace("\r\n", "\n")
    return bytes(content).replace(b"\r\n", b"\n")


def shape_of(message: EmailMessage) -> MessageShape:
    """The shape of `message`, built or parsed (the same function on both sides, so the
    comparison never depends on how either side normalizes)."""
    headers = tuple((name.lower(), _header_value(value)) for name, value in message.items())
    parts = tuple(
        PartShape(
            content_type=part.get_content_type(),
            params=tuple(sorted((k.lower(), str(v)) for k, v in (part.get_params() or ())[1:] if k.lower() != "boundary")),
            header_names=tuple(name.lower() for name in part.keys()) if part is not message else (),
            filename=part.get_filename(),
            content=_content(part),
        )
        for part in message.walk()
    )
    return MessageShape(headers, parts)


class HeaderClasses(HeaderRegistry):
    """The email package's header factory, making each header class once.

    `HeaderRegistry` makes a new class for every header it builds (`type('_' + cls.__name__,
    (cls, base_class), {})`): some forty per email composed and checked, each a reference
    cycle left to the garbage collector. The class depends only on the registered class
    for the header's name, so it is made once per registered class and reused; what it
    builds is the same."""

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[type, type] = {}

    def __getitem__(self, name: str) -> type:
        registered = self.registry.get(name.lower(), self.default_class)
        made = self._classes.get(registered)
        if made is None:
            made = self._classes[registered] = type("_" + registered.__name__, (registered, self.base_class), {})
        return made


# policy.SMTP, with header classes made once (see `HeaderClasses`): what emails are composed with.
SMTP = email.policy.SMTP.clone(header_factory=HeaderClasses())


class _ParsedOnce(HeaderClasses):
    """`HeaderClasses` that also parses each header of one message once.

    Under policy.default a parsed message keeps its headers as text and parses a header
    again each time it is read (`Message.get`): reading a message's shape reads the
    Content-Type of each part a dozen times (content type, parameters, charset, filename,
    the content itself), each time through the email package's header parser, which was
    about half the CPU of a join. A header object is only read here (a parsed message is
    compared, never serialized), so the one made for a (name, value) serves every read of
    that header in the message."""

    def __init__(self) -> None:
        super().__init__()
        self._parsed: dict[tuple[str, str], Any] = {}

    def __call__(self, name: str, value: str) -> Any:
        key = (name, value)
        header = self._parsed.get(key)
        if header is None:
            header = self._parsed[key] = super().__call__(name, value)
        return header


def parse(text: str) -> EmailMessage:
    """`text` parsed as a receiver would (policy.default; each header parsed once, see
    `_ParsedOnce`)."""
    policy = email.policy.default.clone(header_factory=_ParsedOnce())
    return email.parser.Parser(policy=policy).parsestr(text)


def differences(built: MessageShape, text: str) -> list[str]:
    """How the message `text` differs from the message that was built (empty: it says
    exactly that). Descriptions name headers and parts, never quote user text at length."""
    try:
        parsed = shape_of(parse(text))
    except Exception as error:  # noqa: BLE001 - any parse failure is a refusal, not a crash
        return [f"the message cannot be parsed back ({type(error).__name__})"]
    found: list[str] = []
    built_names = [name for name, _ in built.headers]
    parsed_names = [name for name, _ in parsed.headers]
    if built_names != parsed_names:
        extra = sorted(set(parsed_names) - set(built_names))
        missing = sorted(set(built_names) - set(parsed_names))
        found.append(f"headers differ (added: {', '.join(extra) or '-'}; missing: {', '.join(missing) or '-'};"
                     f" {len(parsed_names)} instead of {len(built_names)})")
    else:
        found += [f"header {name} differs" for (name, a), (_, b) in zip(built.headers, parsed.headers) if a != b]
    if len(built.parts) != len(parsed.parts):
        found.append(f"{len(parsed.parts)} MIME parts instead of {len(built.parts)}")
    else:
        for index, (a, b) in enumerate(zip(built.parts, parsed.parts)):
            for field in ("content_type", "params", "header_names", "filename", "content"):
                if getattr(a, field) != getattr(b, field):
                    found.append(f"part {index} ({a.content_type}): {field.replace('_', ' ')} differs")
    return found
