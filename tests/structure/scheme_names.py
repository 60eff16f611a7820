#!/usr/bin/python3
"""scheme_names.py: where the source names each positional scheme.

Reads the scheme names from src/schemes/registry.c's SCHEMES list (the
lines X(name)) and prints, for every scheme, one line

    NAME FILE FILE ...

with the files of src/ and include/ (*.c, *.h) that name it. A file names
scheme S when S is
  - a part of an identifier, split at '_', in any case (rg_scheme_S,
    S_width, RG_S_MAX, S), outside comments and string literals; or
  - a value in a string literal, case as written: the whole literal ("S"),
    after '=' ("pos = S", "pos=S"), or next to ',' or '+' in a list
    ("S,S,none", "a+S").
Comments and prose inside messages ("trains none", "a learned bias") do
not count: scheme names such as none and learned are also English words.

Usage: scheme_names.py [ROOT]   (default: the repository holding this file)
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).parents[2])

# comments, string literals, character literals, identifiers (in that order
# of precedence: the first alternative that matches at a position wins)
TOKEN = re.compile(
    r'/\*.*?\*/|//[^\n]*'
    r'|"(?:\\.|[^"\\\n])*"'
    r"|'(?:\\.|[^'\\\n])*'"
    r'|[A-Za-z_][A-Za-z0-9_]*',
    re.S,
)


def scheme_list():
    text = (ROOT / 'src/schemes/registry.c').read_text()
    m = re.search(r'#define SCHEMES\(X\)((?:[^\n]*\\\n)*[^\n]*)', text)
    if not m:
        sys.exit('scheme_names.py: no "#define SCHEMES(X)" list in src/schemes/registry.c')
    names = re.findall(r'\bX\((\w+)\)', m.group(1))
    if not names:
        sys.exit('scheme_names.py: the SCHEMES list of src/schemes/registry.c is empty')
    return names


def names_in_string(text, name):
    """Whether literal text holds name as a value (see the module's text)."""
    if text == name:
        return True
    for m in re.finditer(r'(?<![A-Za-z0-9_])' + re.escape(name) + r'(?![A-Za-z0-9_])', text):
        before, after = text[: m.start()], text[m.end():]
        if before.rstrip(' ').endswith('=') or before[-1:] in (',', '+') or after[:1] in (',', '+'):
            return True
    return False


def named_in(path, names):
    """The subset of names that file path names."""
    found = set()
    for m in TOKEN.finditer(path.read_text(errors='replace')):
        tok = m.group(0)
        if tok.startswith(('/*', '//', "'")):
            continue
        if tok.startswith('"'):
            found.update(n for n in names if names_in_string(tok[1:-1], n))
        else:
            parts = tok.lower().split('_')
            found.update(n for n in names if n in parts)
    return found


def main():
    names = scheme_list()
    files = sorted(p for d in ('src', 'include') for p in (ROOT / d).rglob('*.[ch]'))
    where = {n: [] for n in names}
    for path in files:
        for n in named_in(path, names):
            where[n].append(str(path.relative_to(ROOT)))
    for n in names:
        print(n, *sorted(where[n]))


main()
