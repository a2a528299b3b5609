#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""The installed libtdxsim.a exports exactly what the public headers declare.

usage: check_exports.py NM ARCHIVE INCLUDE_DIR

Fails, listing them, on a defined global symbol of ARCHIVE that no header of
INCLUDE_DIR declares (an internal name leaking out), and on a function a
public header declares that ARCHIVE does not define (a hidden public name:
programs using it would not link).
"""
import pathlib
import re
import subprocess
import sys

# A prototype: starts at column 0 (the name may too, after a return type on
# the line before), is not static, a typedef or a preprocessor line, and ends
# with ';' after its parameters (a static inline definition has '{' there).
DECL = re.compile(r'^(?!static\b|typedef\b|#|\s)(?:[^;{}#\n]*?\b)?([A-Za-z_]\w*)\s*\([^;{}#]*\)\s*;',
                  re.M)


def defined_globals(nm, archive):
    out = subprocess.run([nm, '-g', '--defined-only', archive], check=True,
                         capture_output=True, text=True).stdout
    syms = set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] not in ('U', 'w', 'v'):
            syms.add(parts[2])
    return syms


def declared(include_dir):
    names = set()
    for header in sorted(pathlib.Path(include_dir).rglob('*.h')):
        text = re.sub(r'/\*.*?\*/', '', header.read_text(), flags=re.S)
        names.update(DECL.findall(text))
    return names


def main():
    nm, archive, include_dir = sys.argv[1:4]
    exported = defined_globals(nm, archive)
    public = declared(include_dir)
    leaked = sorted(exported - public)
    hidden = sorted(public - exported)
    print(f'{archive}: {len(exported)} defined global symbols, '
          f'{len(public)} functions declared in {include_dir}')
    for name in leaked:
        print(f'not public but exported: {name}')
    for name in hidden:
        print(f'declared public but not exported: {name}')
    return 1 if leaked or hidden else 0


if __name__ == '__main__':
    sys.exit(main())
