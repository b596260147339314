"""One notation: every symbol a chapter defines is on the notation page, with that meaning.

The notation page, ``book/notation.md``, is the registry. Each row of a table with the columns
``Symbol`` and ``Chapter`` names one or more symbols in LaTeX, says what they mean and gives
the chapter that introduces them. Where the row's ``Meaning`` holds maths of the form
``$SYM = RHS$`` (chains ``= ... =`` allowed) for one of its symbols, every ``RHS`` is an
accepted definition of the row's symbols; :data:`ACCEPTED` adds equivalent spellings and
stated special cases, and :data:`OPEN` lists the few symbols whose chapters state many special
cases on purpose (only their registration and chapter are checked).

A chapter *defines* a symbol where its maths says ``SYM = RHS`` (or ``RHS =: SYM``) with a
single symbol on the left (optionally applied to plain arguments, as in ``kappa(K)``), or
where its prose says "write $SYM$ for" or "$SYM$ denotes". An index taking a value
(``k = 0``) and a transpose (``F^T = ...``) are not definitions. Symbols are compared by *key*:
index subscripts become one bullet per index (``A_{ij}`` and ``A_{kl}`` are ``A_{••}``, ``A_i``
is ``A_{•}``; see :func:`symbol_key`), so that ``q_i`` (a query) and ``q_t`` (anything else)
collide, as a reader would see them collide. A definition is reported when

* its key is not in the registry ("not on the notation page"),
* the registry says the symbol is introduced in a later chapter, or
* the right-hand side is not a number and none of its ``=``-separated parts equals an accepted
  definition after normalisation (:func:`normalise`): "conflicts with the notation page".

Every registry row that names chapter ``n`` must also have one of its symbols in chapter
``n``'s maths. Each problem is one line naming the chapter (with its line), the symbol and the
conflict.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTATION = ROOT / "book" / "notation.md"
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.md"))

GREEK = (
    "alpha|beta|gamma|delta|epsilon|varepsilon|zeta|eta|theta|iota|kappa|lambda|mu|nu|xi|pi|"
    "varpi|rho|varrho|sigma|varsigma|tau|upsilon|phi|varphi|chi|psi|omega|Gamma|Delta|Theta|"
    "Lambda|Xi|Pi|Sigma|Upsilon|Phi|Psi|Omega|ell"
)
# Letters that index positions, keys, classes, coordinates, steps, heads, groups, seeds.
INDEX_LETTERS = set("ijklmnrstabch") | {"i'", "j'", "l'", "c'", "k'", "m'"}

_DECOR = r"(?:\\(?:bar|tilde|hat|mathring|check|breve)\s*(?:\{[^{}]*\}|\s*\\?[A-Za-z]+))"
_BASE = (
    rf"(?:\\(?:{GREEK})(?![A-Za-z])|\\(?:mathcal|mathbb|mathrm|mathbf)\{{[A-Za-z]+\}}"
    rf"|\\operatorname\{{[A-Za-z]+\}}|[A-Za-z](?![A-Za-z]))"
)
_SCRIPT = r"(?:[_^](?:\{(?:[^{}]|\{[^{}]*\})*\}|\\[A-Za-z]+|[A-Za-z0-9*]))"
SYMBOL = re.compile(rf"(?:{_DECOR}|{_BASE})(?:\s*{_SCRIPT})*")
# A symbol alone, optionally applied to an argument list: kappa(K), t_{10}(q), pi_t(s).
LHS = re.compile(rf"^\s*(?P<sym>(?:{_DECOR}|{_BASE})(?:\s*{_SCRIPT})*)\s*(?P<arg>\([^()]*\))?\s*$")

# Operators and constants that may stand on the left of '=' (e^{-inf} = 0, E[b] = ...): never
# symbols, with or without scripts. And "d", which the text uses as a plain width (d = d_v).
OPERATORS = {r"\mathbb{E}", r"\Pr", "e", r"\mathbb{R}", r"\operatorname{Var}", r"\mathrm{KL}",
             r"\mathrm{LN}", r"\operatorname{LSE}", r"\operatorname{tr}"}
NOT_SYMBOLS = OPERATORS | {"d"}


# Symbols whose chapters legitimately state many special cases (a made-up loss for a check,
# uniform attention, one-hot inputs, the LayerNorm variant's values): only their registration
# and chapter are checked, not their right-hand sides.
OPEN = [r"L", r"z", r"z_i", r"z_{ic}", r"Z", r"p", r"p_i", r"x_i", r"X", r"o_i", r"o_{ia}",
        r"\alpha", r"\alpha_i", r"\alpha_{ij}", r"v", r"v_j", r"v_{cj}", r"V", r"g", r"g_i",
        r"g_{ij}", r"\Pi_{ij}", r"\pi_t", r"\tilde v"]

# Further accepted right-hand sides: equivalent spellings and the special cases a chapter
# states on purpose (each is a value under a stated assumption, not a second meaning).
ACCEPTED = {
    r"s_{ij}": [r"\frac{q_i \cdot k_j}{\sqrt{d_k}}", r"r_{ij} / \sqrt{d_k}",
                r"q_i \cdot k_j / \tau"],  # the last: chapter 5's temperature exercise
    r"S": [r"\frac{Q K^\top}{\sqrt{d_k}}"],
    r"P": [r"\operatorname{softmax}_{\text{rows}}(F W_{VO})"],  # P as a function of W_VO
    r"u_i": [r"\frac{\partial L}{\partial o_i}", r"\frac{1}{N} (p_i - e_{y_i}) W_O^\top",
             r"\tfrac{1}{N} \partial L_i/\partial o_i", r"\frac{(p_i - e_{y_i}) W_O^\top}{N}",
             r"\frac{1}{N} (P - Y) W_O^\top", r"\partial L/\partial Z W_O^\top",
             r"u", r"(p_i - e_0) W_O^\top/N"],  # chapter 10: one target class for all
    r"b_{ij}": [r"\frac{\partial L}{\partial \alpha_{ij}}", r"u \cdot v_j",
                r"\mathbb{E}_{\alpha_i}[b]"],  # the last: the condition of a row at rest
    r"A_{ij}": [r"u_i \cdot o_i - u_i \cdot v_j",
                r"(\mathbb{E}_{\alpha_i}[b] - b_{ij}) \mathbf{1}[(i, j) \in \mathcal{M}]",
                r"\mathbb{E}[b] \mathbf{1}^\top - B"],
    r"G": [r"\partial L/\partial s", r"\alpha \odot (U V^\top - \mathbb{E}_{\alpha_i}[b])"],
    r"c_j": [r"\sum_{i=j}^{N-1} \frac{1}{i + 1}", r"H_N", r"\frac{1}{N}"],  # uniform attention
    r"Z": [r"\alpha X W_V W_O"],
    r"O": [r"F W_V", r"\alpha X W_V"],  # chapter 7: the same product, grouped as (alpha X) W_V
    r"\Omega_{ic}": [r"\sum_b X_{ib} W_{bc}"],
    r"g_W": [r"g_{VO} W_O^\top", r"W_V^\top g_{VO}"],
    r"p^{\mathrm{B}}_t": [r"\pi_0"],  # the first prior
    r"\pi_t": [],
}


# ---------------------------------------------------------------- reading maths out of text


def chapter_prose(text: str) -> str:
    """The markdown of a chapter without its front matter and code cells."""
    blank = lambda m: "\n" * m.group(0).count("\n")  # keep the line numbers of the file
    text = re.sub(r"\A---\n.*?\n---\n", blank, text, flags=re.S)
    return re.sub(r"^```\{code-cell\}.*?^```[ \t]*$", blank, text, flags=re.S | re.M)


def maths(text: str) -> list[tuple[str, int, str]]:
    """Every maths segment of ``text`` as (latex, line, the prose just before it)."""
    text = re.sub(r"`[^`\n]*`", lambda m: " " * len(m.group(0)), text)
    found = []
    for m in re.finditer(r"\$\$(.+?)\$\$|\$([^$\n]+?)\$", text, flags=re.S):
        before = text[max(0, m.start() - 40):m.start()]
        found.append((m.group(1) or m.group(2), text.count("\n", 0, m.start()) + 1, before))
    return found


def _strip_braced_command(s: str, command: str) -> str:
    """Remove ``\\command{...}`` (balanced) from ``s``."""
    out, i = [], 0
    while True:
        j = s.find(command + "{", i)
        if j < 0:
            return "".join(out) + s[i:]
        out.append(s[i:j])
        depth, k = 0, j + len(command)
        while k < len(s):
            depth += {"{": 1, "}": -1}.get(s[k], 0)
            k += 1
            if depth == 0:
                break
        i = k


def split_top(s: str, seps: tuple[str, ...]) -> list[str]:
    """Split ``s`` at the separators that are outside braces, brackets and parentheses."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(s):
        ch = s[i]
        if s.startswith(r"\left", i) or s.startswith(r"\right", i):
            i += 5 if s.startswith(r"\left", i) else 6
            continue
        if ch in "{([":
            depth += 1
        elif ch in "})]":
            depth -= 1
        elif depth == 0:
            for sep in seps:
                if s.startswith(sep, i) and not (sep[-1].isalpha() and s[i + len(sep):i + len(sep) + 1].isalpha()):
                    parts.append(s[start:i])
                    i += len(sep)
                    start = i
                    break
            else:
                i += 1
                continue
            continue
        i += 1
    parts.append(s[start:])
    return parts


CLAUSE_SEPARATORS = (r"\qquad", r"\quad", r"\text{", r"\mathrm{and}", ",", ";", r"\;", r"\\",
                     r"\Longrightarrow", r"\Rightarrow", r"\implies", r"\iff", r"\mid")
RELATIONS = (r"\approx", r"\le", r"\ge", r"\leq", r"\geq", "<", ">", r"\ne", r"\neq", r"\sim",
             r"\propto", r"\to", r"\leftarrow", r"\mapsto", r"\in", r"\perp", r"\equiv")


def clean(latex: str) -> str:
    """Drop what does not change a formula's meaning: labels, spacing, sizing, boxes."""
    s = latex
    s = _strip_braced_command(s, r"\label")
    s = re.sub(r"\\(?:boxed|displaystyle|textstyle)", "", s)
    s = re.sub(r"\\underbrace\{", "{", s)
    s = re.sub(r"_\{\\text\{[^{}]*\}[^{}]*\}", "", s) if r"\underbrace" in latex else s
    s = re.sub(r"\\(?:big|Big|bigg|Bigg)[lr]?(?![a-zA-Z])", "", s)
    s = re.sub(r"\\(?:left|right)(?![a-zA-Z])\.?", "", s)
    s = re.sub(r"\\[,;:! ]|~", " ", s)
    s = s.replace(r"\[2ex]", "")
    s = re.sub(r"([_^])\\(text|mathrm)\{([^{}]*)\}", r"\1{\\\2{\3}}", s)  # x_\text{a} -> x_{\text{a}}
    s = s.replace(r"\lvert", "|").replace(r"\rvert", "|")
    return s


def definitions(latex: str, before: str = "") -> list[tuple[str, str | None, list[str]]]:
    """The (symbol, argument, right-hand sides) that one maths segment defines."""
    found = []
    s = clean(latex)
    if re.search(r"(?i)(write|writing)\s*$", before) or re.search(r"(?i)denotes", s):
        pass
    for clause in split_top(s, CLAUSE_SEPARATORS):
        clause = clause.strip().rstrip(".")
        if "=:" in clause:
            left, right = clause.split("=:", 1)
            parts = [q.strip() for q in split_top(left, ("=",))]
            lhs = right.strip()
        else:
            parts = split_top(clause.replace(":=", "="), ("=",))
            if len(parts) < 2:
                continue
            lhs, parts = parts[0], [p for p in parts[1:]]
        if any(split_top(lhs, (rel,))[1:] for rel in RELATIONS):
            continue
        m = LHS.match(lhs)
        if not m or not plain_argument(m.group("arg")):
            continue
        rhs = []
        for p in parts:
            pieces = [p]
            for rel in RELATIONS:
                pieces = [q for piece in pieces for q in split_top(piece, (rel,))[:1]]
            rhs.append(pieces[0].strip())
        sym = m.group("sym").strip()
        if re.search(r"_(?:\{[^{}]*\}|[A-Za-z0-9])\s*\^\s*2$", sym):
            sym = re.sub(r"\s*\^\s*2$", "", sym)  # sigma_i^2 = ... defines sigma_i
        found.append((sym, m.group("arg"), rhs))
    return found


def plain_argument(arg: str | None) -> bool:
    """True for f(x), kappa(K), pi_t(s); false for alpha_ij(b_ij - E[b]) or p(y_t = c | x)."""
    if arg is None:
        return True
    top = re.sub(r"\{[^{}]*\}", "", arg[1:-1])
    return not re.search(r"[-+=<>|]|\\(?:mid|cdot|sum|frac)|^\s*\d", top)


def prose_definitions(text: str) -> list[tuple[str, int]]:
    """Symbols introduced in words: 'write $SYM$ for', '$SYM$ denotes'."""
    text = re.sub(r"`[^`\n]*`", "", text)
    out = []
    for m in re.finditer(r"(?i)\bwrit(?:e|ing)\s+\$([^$\n]+)\$\s+for\b|\$([^$\n]+)\$\s+denotes\b", text):
        sym = (m.group(1) or m.group(2)).strip()
        if LHS.match(clean(sym)):
            out.append((clean(sym).strip(), text.count("\n", 0, m.start()) + 1))
    return out


# ---------------------------------------------------------------- comparing symbols and maths


def index_count(content: str) -> int:
    """How many indices a subscript holds (ij: 2, t-1: 1, i,j: 2, 10: 1), or 0 if it is a label."""
    c = content.replace(" ", "").replace(r"\prime", "'")
    if not c or not re.fullmatch(r"[A-Za-z0-9'+\-,]+", c):
        return 0
    parts = c.split(",")
    count = 0
    for part in parts:
        letters = re.findall(r"[A-Za-z]'?", part)
        if any(t not in INDEX_LETTERS and t not in {"N", "T"} for t in letters):
            return 0
        if not letters and not (part.isdigit() and len(parts) == 1 and len(part) <= 2):
            return 0  # t_{10}, tau_{100}: labels; alpha_{00}, c_0: index values
        if len(parts) == 1 and re.fullmatch(r"(?:[A-Za-z]'?)+", part):
            count += len(letters)  # ij: two indices written together
        elif len(parts) == 1 and part.isdigit():
            count += len(part)  # 00: the pair (0, 0)
        else:
            count += 1
    return count


def symbol_key(sym: str) -> str:
    """A symbol with whitespace removed and index subscripts replaced by one bullet each."""
    s = re.sub(r"\s+", "", clean(sym))
    s = re.sub(r"\\operatorname\{([A-Za-z]+)\}", r"\\mathrm{\1}", s)

    def sub(m: re.Match) -> str:
        inner = m.group(1) if m.group(1) is not None else m.group(2)
        n = index_count(inner)
        return "_{" + "•" * n + "}" if n else m.group(0)

    s = re.sub(r"_\{([^{}]*)\}|_([A-Za-z0-9])", sub, s)
    # the order of sub- and superscripts does not matter: x^{(m)}_i is x_i^{(m)}
    m = re.match(r"^(.*?)((?:[_^](?:\{(?:[^{}]|\{[^{}]*\})*\}|\\[A-Za-z]+|[A-Za-z0-9*]))*)$", s)
    if m and m.group(2):
        scripts = re.findall(r"[_^](?:\{(?:[^{}]|\{[^{}]*\})*\}|\\[A-Za-z]+|[A-Za-z0-9*])", m.group(2))
        s = m.group(1) + "".join(sorted(scripts))
    return s


def normalise(latex: str) -> str:
    """A formula in a canonical spelling: no spacing, one fraction macro, no index names."""
    s = clean(latex)
    s = re.sub(r"\\[td]frac", r"\\frac", s)
    s = re.sub(r"\\operatorname\{([A-Za-z]+)\}", r"\\mathrm{\1}", s)
    s = s.replace(r"\top", "T").replace("^{T}", "^T").replace(r"\cdot", "·")
    s = re.sub(r"\s+", "", s)
    s = re.sub(r"\{([^{}])\}", r"\1", s)  # x_{i} -> x_i, \frac{1}{N} -> \frac1N
    def bullets(m: re.Match) -> str:
        n = index_count(m.group(1) or m.group(2) or "")
        return "_" + "•" * n if n else m.group(0)

    s = re.sub(r"_\{([^{}]*)\}|_([A-Za-z0-9])", bullets, s)
    return s.rstrip(".,")


def is_number(latex: str) -> bool:
    """True for right-hand sides that give a value rather than a definition."""
    s = re.sub(r"\\(?:times|pm|approx|text\{[^{}]*\}|mathrm\{[^{}]*\}|,|;|!| )|[{}\s~]", "", clean(latex))
    s = re.sub(r"\\(?:frac|sqrt|log|ln|tfrac|dfrac|infty|dots|ldots|cdots)", "", s)
    return re.fullmatch(r"[-+0-9.,/()^%*]*", s) is not None


# ---------------------------------------------------------------- the registry


@dataclass
class Entry:
    symbols: list[str]
    meaning: str
    chapter: int
    forms: list[str] = field(default_factory=list)  # accepted right-hand sides, normalised
    line: int = 0


def registry(text: str) -> dict[str, Entry]:
    """Parse the notation page's tables into {symbol key: Entry}."""
    entries: dict[str, Entry] = {}
    header: list[str] | None = None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.startswith("|"):
            header = None
            continue
        cells = [c.strip() for c in split_top(line.strip().strip("|"), ("|",))]
        if header is None:
            header = [c.lower() for c in cells]
            continue
        if set("".join(cells)) <= set("-: "):
            continue
        row = dict(zip(header, cells))
        if "chapter" not in row or "symbol" not in row:
            continue
        symbols = [s.strip() for seg, _, _ in maths(row["symbol"]) for s in split_top(seg, (",",))]
        symbols = [s for s in symbols if LHS.match(clean(s))]  # derivatives such as dL/dz: prose only
        chapter = int(re.match(r"\d+", row["chapter"]).group(0))
        definition = row.get("definition", row.get("meaning", ""))
        forms = []
        keys = {symbol_key(LHS.match(clean(s)).group("sym")) for s in symbols}
        for seg, _, _ in maths(definition):
            for sym, _, rhs in definitions(seg):
                if symbol_key(sym) in keys:
                    forms += [normalise(r) for r in rhs]
        meaning = row.get("meaning", definition)
        entry = Entry([s.strip() for s in symbols], meaning, chapter, forms, number)
        for s in symbols:
            key = symbol_key(LHS.match(clean(s)).group("sym"))
            if key in entries and entries[key].line != number:
                raise ValueError(f"notation.md:{number}: {s} is already on line {entries[key].line}")
            entries[key] = entry
    return entries


# ---------------------------------------------------------------- the check


def chapter_number(name: str) -> int:
    return int(Path(name).name[:2])


OPEN_KEYS = {symbol_key(s) for s in OPEN}
ACCEPTED_FORMS = {symbol_key(k): {normalise(f) for f in v} for k, v in ACCEPTED.items()}


def check_chapter(name: str, text: str, reg: dict[str, Entry]) -> list[str]:
    """One line per symbol that ``text`` (chapter ``name``) defines against the registry."""
    n = chapter_number(name)
    problems = []
    prose = chapter_prose(text)
    found = [(sym, line, rhs) for latex, line, before in maths(prose)
             for sym, _, rhs in definitions(latex, before)]
    found += [(sym, line, []) for sym, line in prose_definitions(prose)]
    for sym, line, rhs in found:
        base = re.match(rf"{_DECOR}|{_BASE}", sym)
        if (sym in NOT_SYMBOLS or sym in INDEX_LETTERS or r"^\top" in sym
                or (base and base.group(0) in OPERATORS)):
            continue  # an index taking a value, or a transpose of something defined
        key = symbol_key(sym)
        same = [r for r in rhs if SYMBOL.fullmatch(r.strip()) and symbol_key(r) == key]
        if rhs and len(same) == len(rhs):
            continue  # v_j = v_l: two instances said to be equal, no definition
        rhs = [r for r in rhs if r not in same]
        entry = reg.get(key)
        where = f"{Path(name).name}:{line}: ${sym}$"
        shown = " = ".join(rhs)
        if entry is None:
            problems.append(f"{where} = {shown} is not on the notation page")
            continue
        if entry.chapter > n:
            problems.append(f"{where} is defined here but the notation page says chapter {entry.chapter} introduces it")
        if key in OPEN_KEYS:
            continue
        forms = set(entry.forms).union(*(ACCEPTED_FORMS.get(symbol_key(LHS.match(clean(s)).group("sym")), set())
                                         for s in entry.symbols))
        if forms and rhs and not all(is_number(r) for r in rhs):
            if not any(normalise(r) in forms for r in rhs):
                problems.append(f"{where} = {shown} conflicts with the notation page "
                                f"(line {entry.line}: {entry.meaning})")
    return problems


def symbols_in(text: str) -> set[str]:
    """The keys of every symbol that appears in the maths of ``text``."""
    keys = set()
    for latex, _, _ in maths(chapter_prose(text)):
        s = clean(latex)
        inner = " ".join(re.findall(r"[_^]\{((?:[^{}]|\{[^{}]*\})*)\}", s))  # e_{y_i} also shows y_i
        for m in list(SYMBOL.finditer(s)) + list(SYMBOL.finditer(inner)):
            tok = m.group(0)
            keys.add(symbol_key(tok))
            # a decorated or scripted symbol also shows its bare base: u_i^h shows u_i
            base = re.match(rf"{_DECOR}|{_BASE}", tok)
            if base:
                keys.add(symbol_key(base.group(0)))
                first = re.match(rf"(?:{_DECOR}|{_BASE})\s*{_SCRIPT}", tok)
                if first:
                    keys.add(symbol_key(first.group(0)))
    return keys


def check_registry_use(reg: dict[str, Entry], chapters: dict[int, str]) -> list[str]:
    """Every registry row that names chapter n has its symbols in chapter n's maths."""
    problems = []
    rows: dict[int, tuple[Entry, set[str]]] = {}
    for key, entry in reg.items():  # one row may register several symbols
        rows.setdefault(entry.line, (entry, set()))[1].add(key)
    used = {n: symbols_in(text) for n, text in chapters.items()}
    for line, (entry, keys) in sorted(rows.items()):
        shown = ", ".join(entry.symbols)
        if entry.chapter not in chapters:
            problems.append(f"notation.md:{line}: {shown} names chapter {entry.chapter}, which does not exist")
        elif not keys & used[entry.chapter]:
            problems.append(f"notation.md:{line}: {shown} is not in the maths of chapter {entry.chapter}")
    return problems


# ---------------------------------------------------------------- tests


@pytest.fixture(scope="module")
def reg() -> dict[str, Entry]:
    return registry(NOTATION.read_text())


def test_every_chapter_is_read():
    assert len(CHAPTERS) >= 11, [c.name for c in CHAPTERS]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name[:2])
def test_chapter_definitions_match_the_notation_page(path, reg):
    problems = check_chapter(path.name, path.read_text(), reg)
    assert not problems, "\n".join(problems)


def test_every_registry_symbol_appears_in_its_chapter(reg):
    chapters = {chapter_number(p.name): p.read_text() for p in CHAPTERS}
    problems = check_registry_use(reg, chapters)
    assert not problems, "\n".join(problems)


TOY_REGISTRY = """
| Symbol | Definition | Meaning | Chapter |
| --- | --- | --- | --- |
| $S$ | $S = Q K^\\top / \\sqrt{d_k}$ | scores | 2 |
| $G$ | $G = \\partial L / \\partial S$ | the gradient of the scores | 3 |
| $J_i$ | $J_i = \\operatorname{diag}(\\alpha_i) - \\alpha_i^\\top \\alpha_i$ | softmax Jacobian | 2 |
"""


def test_check_reports_a_symbol_with_another_meaning():
    reg_ = registry(TOY_REGISTRY)
    text = "Write the error as $G = \\partial L/\\partial Z = (P - Y)/N$ from here on.\n"
    problems = check_chapter("07_two_timescales.md", text, reg_)
    assert len(problems) == 1, problems
    assert "07_two_timescales.md:1: $G$" in problems[0] and "conflicts" in problems[0]
    assert "\n" not in problems[0]


def test_check_reports_the_outer_product_written_the_other_way():
    reg_ = registry(TOY_REGISTRY)
    text = "$$\nJ_i = \\operatorname{diag}(\\alpha_i) - \\alpha_i \\alpha_i^\\top\n$$\n"
    problems = check_chapter("03_routing_law.md", text, reg_)
    assert len(problems) == 1 and "$J_i$" in problems[0] and "conflicts" in problems[0], problems


def test_check_reports_an_unregistered_symbol():
    reg_ = registry(TOY_REGISTRY)
    text = "The mean key is $\\bar k_i = \\sum_j \\alpha_{ij} k_j$.\n"
    problems = check_chapter("05_full_backward.md", text, reg_)
    assert problems == ["05_full_backward.md:1: $\\bar k_i$ = \\sum_j \\alpha_{ij} k_j is not on the notation page"]


def test_check_reports_a_symbol_used_before_the_page_introduces_it():
    reg_ = registry(TOY_REGISTRY)
    problems = check_chapter("01_cross_entropy.md", "so $G = \\partial L/\\partial S$.\n", reg_)
    assert len(problems) == 1 and "chapter 3 introduces it" in problems[0], problems


def test_index_names_do_not_matter_but_symbols_do():
    assert symbol_key("A_{ij}") == symbol_key("A_{kl}") != symbol_key("A")
    assert symbol_key("q_i") == symbol_key("q_t")  # a query and anything else indexed: they collide
    assert symbol_key("W_Q") != symbol_key("W_K")
    assert symbol_key("d_k") != symbol_key("d_v")
    reg_ = registry(TOY_REGISTRY)
    ok = "$J_k = \\operatorname{diag}(\\alpha_k) - \\alpha_k^\\top\\alpha_k$ and $S = QK^\\top/\\sqrt{d_k}$\n"
    assert check_chapter("04_value_updates.md", ok, reg_) == []


def test_a_registry_symbol_missing_from_its_chapter_is_reported():
    reg_ = registry(TOY_REGISTRY)
    problems = check_registry_use(reg_, {2: "$S = QK^\\top$ and $J_i$", 3: "no maths here"})
    assert problems == ["notation.md:5: G is not in the maths of chapter 3"]


def test_code_cells_are_not_read():
    reg_ = registry(TOY_REGISTRY)
    text = "```{code-cell} ipython3\nx = 1  # $Z = 3$\n```\n"
    assert check_chapter("02_attention_head.md", text, reg_) == []
