"""Java regular expressions and `Matcher` replacement strings, on Python's `re`.

`RegexRouter` and `TopicNameMatches` take `java.util.regex` patterns, and `RegexRouter` a
replacement in `Matcher.replaceFirst` syntax (`$1`, `${name}`, `\\$` for a literal dollar).
Configs are copied from Java deployments, so both are read as Java reads them.

The two regex dialects agree on what topic patterns use (classes, groups, quantifiers,
anchors, lookaround, possessive quantifiers and atomic groups). Where Java's syntax differs, the
pattern is rewritten: named groups `(?<name>...)` and back references `\\k<name>`, quoted text
`\\Q...\\E`, and the end anchor `\\z`. What Python can't express (Unicode classes such as
`\\p{Alpha}`, class intersections `[a-z&&[^x]]`, inline flags after the start) is refused with a
`ValueError` at configuration time, never silently matched differently.

The replacement is compiled once against the pattern, so a reference to a group the pattern
doesn't have is a configuration error rather than a failure on every matching record.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable


def compile_java_regex(pattern: str) -> re.Pattern[str]:
    """The Python pattern for a Java regex, or `ValueError` saying why it can't be used."""
    translated = _translate(pattern)
    with warnings.catch_warnings():
        # Python warns (FutureWarning) where Java's nested classes and `&&` would start.
        warnings.simplefilter("error", FutureWarning)
        try:
            return re.compile(translated)
        except FutureWarning:
            raise ValueError(
                "nested character classes and class intersections ('[[', '&&') are not supported"
            ) from None
        except re.error as e:
            raise ValueError(str(e)) from None


def _translate(pattern: str) -> str:
    out: list[str] = []
    i, n = 0, len(pattern)
    in_class = False
    while i < n:
        c = pattern[i]
        if c == "\\":
            if i + 1 >= n:
                raise ValueError("unexpected end of pattern after '\\'")
            nxt = pattern[i + 1]
            if nxt == "Q":
                end = pattern.find("\\E", i + 2)
                quoted = pattern[i + 2 :] if end < 0 else pattern[i + 2 : end]
                out.append(re.escape(quoted))
                i = n if end < 0 else end + 2
                continue
            if nxt == "z" and not in_class:
                out.append(r"\Z")
            elif nxt == "Z" and not in_class:
                out.append(r"(?=\n?\Z)")
            elif nxt == "k" and not in_class and i + 2 < n and pattern[i + 2] == "<":
                close = pattern.find(">", i + 3)
                if close < 0:
                    raise ValueError("named back reference \\k<...> is missing its '>'")
                out.append(f"(?P={pattern[i + 3 : close]})")
                i = close + 1
                continue
            else:
                out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            if c == "]":
                in_class = False
            out.append(c)
            i += 1
            continue
        if c == "[":
            in_class = True
            out.append(c)
            i += 1
            # A ']' right after '[' or '[^' is a literal in both dialects.
            if i < n and pattern[i] == "^":
                out.append("^")
                i += 1
            if i < n and pattern[i] == "]":
                out.append("]")
                i += 1
            continue
        if pattern.startswith("(?<", i) and i + 3 < n and pattern[i + 3] not in "=!":
            out.append("(?P<")
            i += 3
            continue
        out.append(c)
        i += 1
    return "".join(out)


Replacement = Callable[[re.Match[str]], str]


def compile_replacement(pattern: re.Pattern[str], replacement: str) -> Replacement:
    """A function building Java's `appendReplacement` text for a match of `pattern`.

    `$n` takes the longest run of digits that is still a group of the pattern (`$12` is group
    12 when there is one, else group 1 and a literal `2`); `${name}` is a named group; `\\x` is
    the character x. A group that took no part in the match adds nothing. `ValueError` for a
    reference to a group the pattern doesn't have, or a dangling `\\` or `$`.
    """
    parts: list[str | int] = []
    literal: list[str] = []
    i, n = 0, len(replacement)
    while i < n:
        c = replacement[i]
        if c == "\\":
            if i + 1 >= n:
                raise ValueError("character to be escaped is missing at the end of the text")
            literal.append(replacement[i + 1])
            i += 2
            continue
        if c != "$":
            literal.append(c)
            i += 1
            continue
        i += 1
        if i >= n:
            raise ValueError("Illegal group reference: group index is missing after '$'")
        if replacement[i] == "{":
            close = i + 1
            while close < n and replacement[close].isascii() and replacement[close].isalnum():
                close += 1
            name = replacement[i + 1 : close]
            if not name:
                raise ValueError("named capturing group has 0 length name")
            if close >= n or replacement[close] != "}":
                raise ValueError(f"named capturing group ${{{name} is missing trailing '}}'")
            if name[0].isdigit():
                raise ValueError(f"capturing group name {{{name}}} starts with digit character")
            if name not in pattern.groupindex:
                raise ValueError(f"No group with name {{{name}}} in the regex")
            group = pattern.groupindex[name]
            i = close + 1
        else:
            if not replacement[i].isascii() or not replacement[i].isdigit():
                raise ValueError(
                    f"Illegal group reference '${replacement[i]}': expected a group number "
                    "or ${name}"
                )
            group = int(replacement[i])
            i += 1
            while i < n and replacement[i].isascii() and replacement[i].isdigit():
                longer = group * 10 + int(replacement[i])
                if longer > pattern.groups:
                    break
                group = longer
                i += 1
            if group > pattern.groups:
                raise ValueError(f"No group {group}: the regex has {pattern.groups} group(s)")
        if literal:
            parts.append("".join(literal))
            literal = []
        parts.append(group)
    if literal:
        parts.append("".join(literal))
    frozen = tuple(parts)

    def build(match: re.Match[str]) -> str:
        return "".join(p if isinstance(p, str) else (match.group(p) or "") for p in frozen)

    return build
