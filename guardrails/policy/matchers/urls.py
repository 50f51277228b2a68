"""``host_in(hosts)``: the host a browser would connect to, compared with a list.

The URL is parsed the way the WHATWG URL standard (what browsers and most
HTTP clients follow) parses http(s) URLs, so the tricks that make two parsers
disagree — ``https://good.com@evil.com``, ``http://good.com\\@evil.com``,
``http://2130706433/``, ``https://ＥＶＩＬ.com`` — resolve to the host that
would really be reached.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote_to_bytes

from guardrails._text import show
from guardrails.policy.matchers.names import listed_names, name_matcher
from guardrails.policy.values import KindError

__all__ = ["host_in", "normalise_domain", "normalise_host", "url_host"]

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_STRIP = "".join(chr(c) for c in range(0x21))  # C0 controls and space
_FORBIDDEN = frozenset("\x00\t\n\r #/:<>?@[\\]^|%\x7f") | frozenset(chr(c) for c in range(0x20))
_NUMBER = re.compile(r"(0[xX][0-9A-Fa-f]*|[0-9]+)")
_PLAIN_HOST = re.compile(r"[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.?")
_AUTHORITY_END = re.compile(r"[/\\?#]")


def host_in(
    hosts: Iterable[str], *, subdomains: bool = False, schemes: Iterable[str] = ("https", "http")
) -> tuple[tuple[str, ...], Callable[[Any], bool]]:
    """Return the normalised hosts and a test: does a URL's host match one of them?"""
    names = listed_names(hosts, normalise_host, "host_in", "host")
    # No normalised IP address ends in "." + a name: IP hosts only match exactly.
    is_listed = name_matcher(names, subdomains, "host_in", lambda name: not _is_ip(name))
    if isinstance(schemes, str) or not all(
        isinstance(s, str) and _SCHEME.fullmatch(s + ":") for s in schemes
    ):
        raise ValueError(f"host_in() schemes must be a list of scheme names, got {show(schemes)}")
    allowed_schemes = frozenset(s.lower() for s in schemes)

    def test(value: Any) -> bool:
        return is_listed(url_host(value, allowed_schemes))

    return names, test


def url_host(value: Any, schemes: frozenset[str]) -> str:
    """The normalised host of an http(s)-like URL; ``KindError`` if it has none."""
    if not isinstance(value, str):
        raise KindError(f"expected a URL string, got {show(value)}")
    text = str.__str__(value).strip(_STRIP)
    text = text.replace("\t", "").replace("\n", "").replace("\r", "")
    match = _SCHEME.match(text)
    if match is None:
        raise KindError(f"expected a URL with a scheme, got {show(value)}")
    scheme = match.group(1).lower()
    if scheme not in schemes:
        raise KindError(f"scheme {scheme!r} is not one of {', '.join(sorted(schemes))}")
    rest = text[match.end() :].lstrip("/\\")
    stop = _AUTHORITY_END.search(rest)
    authority = rest if stop is None else rest[: stop.start()]
    host_port = authority.rpartition("@")[2]
    if host_port.startswith("["):
        end = host_port.find("]")
        if end < 0:
            raise KindError(f"unclosed IPv6 address in {show(value)}")
        host, port = host_port[: end + 1], host_port[end + 1 :]
        if port and not port.startswith(":"):
            raise KindError(f"junk after the IPv6 address in {show(value)}")
        port = port[1:]
    else:
        host, _, port = host_port.partition(":")
    if port and not (port.isascii() and port.isdigit() and int(port) <= 65535):
        raise KindError(f"port {port!r} is not a port number in {show(value)}")
    try:
        return normalise_host(host)
    except ValueError as exc:
        raise KindError(f"{show(value)} has no valid host: {exc}") from None


def normalise_host(host: str) -> str:
    """Percent-decode, IDNA-encode, lowercase; IPv4 in any notation to dotted quad;
    IPv6 compressed, without brackets. ``ValueError`` if it is not a host."""
    if not isinstance(host, str):
        raise ValueError(f"expected a string, got {show(host)}")
    if host.startswith("[") and host.endswith("]"):
        return _ipv6(host[1:-1])
    if ":" in host:
        return _ipv6(host)
    if _PLAIN_HOST.fullmatch(host):
        # The common case, already ASCII letters, digits, '-' and '.': nothing
        # to decode or map, so skip the (slow) idna codec.
        plain = host.lower().removesuffix(".")
        labels = plain.split(".")
        if all(0 < len(label) < 64 for label in labels):
            return _ipv4(labels) if _NUMBER.fullmatch(labels[-1]) else plain
    try:
        decoded = unquote_to_bytes(host).decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("percent-encoding that is not UTF-8") from None
    ascii_host = normalise_domain(decoded, _FORBIDDEN)
    labels = ascii_host.split(".")
    return _ipv4(labels) if _NUMBER.fullmatch(labels[-1]) else ascii_host


# IDNA2003 folds these to other letters (ß→ss, ς→σ) or drops them (ZWJ, ZWNJ);
# browsers (UTS-46 nontransitional) keep them: the same text, two hosts. Refused.
_DEVIATIONS = frozenset("\u00df\u03c2\u200c\u200d")
# UTS-46 maps these to "." as well; NFKC maps the fullwidth ones only.
_DOTS = str.maketrans({"\u3002": ".", "\uff61": ".", "\uff0e": "."})


def normalise_domain(name: str, forbidden: frozenset[str]) -> str:
    """The ASCII form a browser or mail server would use for ``name``.

    As UTS-46 does, with the Unicode tables of this Python: compatibility
    forms folded (NFKC: ``ＥＶＩＬ`` and ``🄴🅅🄸🄻`` are evil), lower case, the
    ideographic full stops as dots, one trailing dot dropped, non-ASCII labels
    punycoded. ``ValueError`` for what the two IDNA standards read differently
    (ß, ς, ZWJ, ZWNJ), for format and control characters, for a character in
    ``forbidden``, and for empty or over-long labels.
    """
    text = unicodedata.normalize("NFKC", name).translate(_DOTS).lower()
    if text.endswith("."):
        text = text[:-1]
    if not text:
        raise ValueError("empty domain")
    labels = []
    for label in text.split("."):
        if not label:
            raise ValueError(f"empty label in {text!r}")
        if not label.isascii():
            for c in label:
                if c in _DEVIATIONS:
                    raise ValueError(f"{c!r} is read differently by IDNA2003 and browsers")
                if not c.isascii() and unicodedata.category(c)[0] not in "LMN":
                    raise ValueError(f"{c!r} ({unicodedata.name(c, 'unnamed')}) cannot be in a domain")
            label = "xn--" + label.encode("punycode").decode("ascii")
        if not forbidden.isdisjoint(label):
            raise ValueError(f"forbidden character in {label!r}")
        if len(label) > 63:
            raise ValueError(f"label longer than 63 characters in {text!r}")
        labels.append(label)
    return ".".join(labels)


def _ipv6(text: str) -> str:
    if "%" in text:
        raise ValueError("IPv6 zone ids are not part of a URL host")
    try:
        address = ipaddress.IPv6Address(text)
    except ValueError as exc:
        raise ValueError(f"bad IPv6 address: {exc}") from None
    # [::ffff:127.0.0.1] reaches 127.0.0.1 on a dual-stack host: it is that address.
    mapped = address.ipv4_mapped
    return str(mapped) if mapped is not None else address.compressed


def _ipv4(parts: list[str]) -> str:
    """WHATWG IPv4 parsing: 1-4 parts, each decimal, 0x-hex or 0-octal."""
    if len(parts) > 4:
        raise ValueError("more than four parts in an IPv4 address")
    numbers = []
    for part in parts:
        if not _NUMBER.fullmatch(part):
            raise ValueError(f"{part!r} is not a number in an IPv4 address")
        if part[:2] in ("0x", "0X"):
            numbers.append(int(part[2:] or "0", 16))
        elif len(part) > 1 and part.startswith("0"):
            if any(c not in "01234567" for c in part):
                raise ValueError(f"{part!r} is not octal")
            numbers.append(int(part, 8))
        else:
            numbers.append(int(part))
    *head, last = numbers
    if any(n > 255 for n in head) or last >= 256 ** (5 - len(numbers)):
        raise ValueError("IPv4 address out of range")
    value = last
    for i, n in enumerate(head):
        value += n * 256 ** (3 - i)
    return str(ipaddress.IPv4Address(value))


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True
