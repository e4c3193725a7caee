"""R's formula syntax, read the way R reads it, before formulaic sees it.

formulaic evaluates the inside of ``I(...)`` and of every function call as
Python, where ``^`` is a bitwise XOR and ``x.1`` is not a name. R reads them
as a power and as a variable. :func:`r_formula` rewrites a formula so that
formulaic computes what R would:

- ``^`` inside any function call (``I(Days^2)``, ``log(x^2)``) becomes
  ``**``; outside calls ``(a + b + c)^2`` stays formulaic's crossing
  operator (all terms up to degree 2, as in R);
- R names with dots (``x.1``, ``mean.ses``) are quoted with backticks, which
  formulaic reads as one name, in and outside calls;
- ``offset(x)`` is refused (see :data:`OFFSET_MESSAGE`), as are bars
  (``|``) outside a call: a random-effects term belongs to ``lme``'s
  ``random`` argument or to :func:`hlmlab.lmm.lmer.lmer`.

:func:`split_lme4` reads lme4's one-formula syntax,
``"Reaction ~ Days + (Days | Subject)"``, into the fixed formula and the
random terms in hlmlab's (nlme's) spelling.
"""

from __future__ import annotations

import re

__all__ = ["OFFSET_MESSAGE", "r_formula", "split_lme4", "backtick_names", "plain_identifiers", "top_level_split"]

#: The error for ``offset(x)`` in a formula (offsets are not supported).
OFFSET_MESSAGE = (
    "offset() is not supported; subtract it from the response instead "
    "(e.g. data['y_adj'] = data['y'] - data['x'], then 'y_adj ~ ...')"
)

#: Names that stay Python attribute access inside calls (``np.pi``, ``np.log``).
_MODULES = ("np", "numpy")

_NAME_CHARS = re.compile(r"[\w.]")
_NUMBER = re.compile(r"\d[\d.]*(?:[eE][+-]?\d+)?\w*")


def _read_name(text: str, i: int) -> int:
    """End of the name (letters, digits, ``_`` and ``.``) that starts at ``i``."""
    j = i
    while j < len(text) and _NAME_CHARS.match(text[j]):
        j += 1
    return j


def _next_char(text: str, j: int) -> str:
    while j < len(text) and text[j].isspace():
        j += 1
    return text[j] if j < len(text) else ""


def _prev_char(out: list[str]) -> str:
    for piece in reversed(out):
        s = piece.rstrip()
        if s:
            return s[-1]
    return ""


def r_formula(formula: str, allow_bars: bool = False) -> str:
    """The formula with R's meaning made explicit for formulaic.

    ``^`` inside a function call becomes ``**``; a name with a dot that is not
    a module attribute (``x.1``, not ``np.pi``) is quoted, `` `x.1` ``;
    backticked names and string literals are copied as they are. The result
    is unchanged by a second pass.

    Raises
    ------
    ValueError
        ``offset(...)`` in the formula (not supported), or a ``|`` outside a
        function call (a random-effects term) unless ``allow_bars``.
    """
    out: list[str] = []
    stack: list[bool] = []  # for each open parenthesis: is it a function call?
    i, n = 0, len(formula)
    while i < n:
        ch = formula[i]
        in_call = any(stack)
        if ch in "'\"`":
            j = formula.find(ch, i + 1)
            if j < 0:
                raise ValueError(f"unbalanced quote {ch} in the formula {formula!r}")
            out.append(formula[i : j + 1])
            i = j + 1
            continue
        if ch.isdigit():
            j = _NUMBER.match(formula, i).end()
            out.append(formula[i:j])
            i = j
            continue
        if ch.isalpha() or ch == "_" or (ch == "." and formula[i + 1 : i + 2].isalpha()):
            j = _read_name(formula, i)
            name = formula[i:j]
            if _next_char(formula, j) == "(":
                if name == "offset":
                    raise ValueError(f"{OFFSET_MESSAGE}; found in the formula {formula!r}")
                out.append(name)
            elif "." in name and name.split(".")[0] not in _MODULES:
                out.append(f"`{name}`")
            else:
                out.append(name)
            i = j
            continue
        if ch == "(":
            prev = _prev_char(out)
            stack.append(bool(prev) and (prev.isalnum() or prev in "_.`]"))
            out.append(ch)
        elif ch == ")":
            if not stack:
                raise ValueError(f"unbalanced ')' in the formula {formula!r}")
            stack.pop()
            out.append(ch)
        elif ch == "^" and in_call:
            out.append("**")
        elif ch == "|" and not in_call and not allow_bars:
            raise ValueError(
                f"the formula {formula!r} has a '|' (a random-effects term): in lm and in lme's fixed part "
                "a bar is not allowed; give lme the random part separately (random='~ 1 + x | g'), "
                "or write the whole model in lme4's syntax with hl.lmer('y ~ x + (1 + x | g)', data)"
            )
        else:
            out.append(ch)
        i += 1
    if stack:
        raise ValueError(f"unbalanced '(' in the formula {formula!r}")
    return "".join(out)


_BACKTICKED = re.compile(r"`([^`]*)`")


def backtick_names(formula: str) -> set[str]:
    """The backticked names of a formula (`` `x.1` `` -> ``x.1``)."""
    return set(_BACKTICKED.findall(formula))


def plain_identifiers(formula: str) -> set[str]:
    """Identifiers of a formula outside backticks and string literals."""
    text = _BACKTICKED.sub(" ", formula)
    text = re.sub(r"'[^']*'|\"[^\"]*\"", " ", text)
    return set(re.findall(r"(?<![\w.])[A-Za-z_][\w]*", text))


# ---------------------------------------------------------------------------
# lme4's one-formula syntax
# ---------------------------------------------------------------------------
def top_level_split(text: str, sep: str) -> list[str]:
    """Split ``text`` at ``sep`` outside parentheses, brackets and quotes."""
    parts, depth, start, i = [], 0, 0, 0
    quote = ""
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"`":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    parts.append(text[start:])
    return parts


def _bar_term(piece: str) -> tuple[str, str, str] | None:
    """``(lhs | g)`` -> (lhs, bar, g) with bar ``|`` or ``||``; None when the piece is no bar term."""
    s = piece.strip()
    if not (s.startswith("(") and s.endswith(")")):
        return None
    inner = s[1:-1]
    depth = 0
    for k, ch in enumerate(inner):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                return None  # "(a) + (b)": the outer parentheses do not enclose one term
        elif ch == "|" and depth == 0:
            double = inner[k + 1 : k + 2] == "|"
            rest = inner[k + 2 :] if double else inner[k + 1 :]
            return inner[:k].strip(), "||" if double else "|", rest.strip()
    return None


def split_lme4(formula: str) -> tuple[str, list[str]]:
    """lme4's ``"y ~ x + (1 + x | g)"`` as (fixed formula, random terms in nlme's spelling).

    Each parenthesised bar term ``(lhs | g)`` becomes ``"~ lhs | g"`` and
    ``(lhs || g)`` (uncorrelated effects) ``"~ lhs || g"``, in the order
    written; the remaining terms form the fixed formula. ``y ~ (1 | g)``
    has an intercept-only fixed part, as in R.

    Raises
    ------
    ValueError
        No ``~`` or no response; no bar term; a bar outside parentheses; a
        bar term with nothing on one side; a fixed part with no terms left
        (``y ~ 0 + (1 | g)``).
    """
    if not isinstance(formula, str):
        raise TypeError(f"formula must be a string such as 'y ~ x + (1 | g)', got {type(formula).__name__}")
    sides = top_level_split(formula, "~")
    if len(sides) != 2 or not sides[0].strip():
        raise ValueError(f"the formula {formula!r} must have a response, '~' and terms: 'y ~ x + (1 | g)'")
    lhs, rhs = sides[0].strip(), sides[1]
    fixed_terms: list[str] = []
    random: list[str] = []
    for piece in top_level_split(rhs, "+"):
        if not piece.strip():
            raise ValueError(f"the formula {formula!r} has an empty term (two '+' in a row?)")
        bar = _bar_term(piece)
        if bar is None:
            try:
                r_formula(piece)
            except ValueError as e:
                if "'|'" in str(e):
                    raise ValueError(
                        f"the term {piece.strip()!r} of {formula!r} has a bar outside parentheses: "
                        "write random-effects terms as '(lhs | group)'"
                    ) from None
                raise
            fixed_terms.append(piece.strip())
            continue
        left, sep, group = bar
        if not left or not group:
            raise ValueError(
                f"the random term {piece.strip()!r} of {formula!r} needs effects left of '{sep}' and a "
                f"grouping factor right of it: '(1 | g)', '(1 + x | g)'"
            )
        random.append(f"~ {left} {sep} {group}")
    if not random:
        raise ValueError(
            f"the formula {formula!r} has no random-effects term such as '(1 | g)'; "
            "for a model without random effects use hl.lm"
        )
    fixed_rhs = " + ".join(fixed_terms) if fixed_terms else "1"
    if re.sub(r"\s", "", fixed_rhs) in ("0", "-1", "1-1", "0+0"):
        raise ValueError(
            f"the fixed part of {formula!r} has no terms ({fixed_rhs!r}): lmer needs at least one "
            "fixed effect, e.g. the intercept ('y ~ 1 + (1 | g)')"
        )
    return f"{lhs} ~ {fixed_rhs}", random
