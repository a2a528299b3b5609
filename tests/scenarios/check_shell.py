#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""tdxsim shell: a session typed on stdin.  Commands run as entered; help
lists the table; a parse error is reported with <stdin>:LINE:COL and the
session goes on; a block runs once its `end` is typed; an unmet expectation
prints <stdin>:LINE: expected ..., observed ... and makes the exit code 1.
TAP output."""
import subprocess
import sys

tdxsim = sys.argv[1]
session = '''help
help expect calls
memslot 0 gpa=0x40000000 size=4M folios=2m
finalize
map 0x4000001
map 0x40000000 level=2m
state 0x40000000
expect level 0x40000000 2m
guest 0
  accept 0x40200000 4k
end
run
expect exits accept = 1
expect calls demote = 7
expect not-bugged
quit
'''
p = subprocess.run([tdxsim, 'shell'], input=session.encode(), capture_output=True, timeout=120)
out = p.stdout.decode('utf-8', 'replace')
checks = [
    ('help lists the groups and commands', 'Expectations:' in out and 'expect calls' in out),
    ('help NAME shows the synopsis and an example',
     'expect calls LEAF OP N [since=MARK] [status=STATUS]' in out and
     'example: expect calls demote = 1' in out),
    ('a parse error names <stdin>:LINE:COL and the session goes on',
     "<stdin>:5:5: expected a 4K-aligned GPA, got '0x4000001'" in out),
    ('state shows the mirror and the S-EPT',
     '0x40000000: mirror 2m' in out and 'S-EPT 2m pending' in out),
    ('an expectation that holds says ok', '  ok' in out),
    ('the guest block ran at `run`', out.count('  ok') >= 3),
    ('an unmet expectation: <stdin>:LINE (as typed): expected ..., observed ...',
     '<stdin>:14: expected calls demote = 7, observed 0' in out),
    ('exit code 1 after a failed expectation', p.returncode == 1),
]
print('1..%d' % len(checks))
bad = 0
for i, (name, ok) in enumerate(checks, 1):
    print('%s %d - %s' % ('ok' if ok else 'not ok', i, name))
    bad += not ok
if bad:
    for line in out.splitlines():
        print('# ' + line)
sys.exit(1 if bad else 0)
