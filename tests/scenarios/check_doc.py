#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""doc/scenario.md's command reference is the command table printed: the text
between <!-- commands:begin --> and <!-- commands:end --> must be exactly
what `tdxsim run --doc` prints.  The page's first example (the first ```
block) is a scenario that must pass.  Regenerate the section with
    tests/scenarios/check_doc.py build/tools/tdxsim doc/scenario.md --update"""
import os
import subprocess
import sys
import tempfile

tdxsim, doc = sys.argv[1], sys.argv[2]
BEGIN, END = '<!-- commands:begin -->\n', '<!-- commands:end -->\n'
text = open(doc).read()
head, rest = text.split(BEGIN, 1)
body, tail = rest.split(END, 1)
gen = subprocess.run([tdxsim, 'run', '--doc'], capture_output=True, check=True).stdout.decode()
if len(sys.argv) > 3 and sys.argv[3] == '--update':
    open(doc, 'w').write(head + BEGIN + gen + END + tail)
    sys.exit(0)
if body != gen:
    a, b = body.splitlines(), gen.splitlines()
    for i, (x, y) in enumerate(zip(a + [''] * len(b), b + [''] * len(a))):
        if x != y:
            print('doc/scenario.md and the command table differ at reference line %d:' % (i + 1))
            print('  doc:   %s' % x)
            print('  table: %s' % y)
            break
    print('regenerate: %s %s %s --update' % (sys.argv[0], tdxsim, doc))
    sys.exit(1)
example = head.split('```\n', 2)[1]
with tempfile.NamedTemporaryFile('w', suffix='.tdx', delete=False) as f:
    f.write(example)
p = subprocess.run([tdxsim, 'run', f.name], capture_output=True)
os.unlink(f.name)
if p.returncode:
    print("doc/scenario.md's first example does not pass:")
    print(p.stdout.decode() + p.stderr.decode())
    sys.exit(1)
print('doc/scenario.md matches the command table (%d lines); its first example passes'
      % len(gen.splitlines()))
