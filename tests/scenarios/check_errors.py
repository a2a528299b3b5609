#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Messages and exit codes of `tdxsim run`, one scenario file each:
 - '# error: LINE:COL: MESSAGE' (tests/scenarios/bad/): bad input.  `tdxsim run
   --check FILE` and `tdxsim run FILE` both print FILE:LINE:COL: MESSAGE, one
   line on stderr, run nothing, and exit 2.
 - '# fail: LINE: MESSAGE' (tests/scenarios/fail/): an unmet expectation.
   `tdxsim run FILE` prints FILE:LINE: MESSAGE as its first line, then the
   last trace events, reports FAIL and exits 1; --check accepts the file.
TAP output."""
import os
import re
import subprocess
import sys

tdxsim, bad_dir = sys.argv[1], sys.argv[2]
files = sorted(f for f in os.listdir(bad_dir) if f.endswith('.tdx'))
print('1..%d' % (2 * len(files)))
n = 0
failed = 0


def result(ok, name, lines):
    global n, failed
    n += 1
    if ok:
        print('ok %d - %s' % (n, name))
        return
    failed += 1
    print('not ok %d - %s' % (n, name))
    for line in lines:
        print('#  ' + line)


for f in files:
    path = os.path.join(bad_dir, f)
    with open(path, 'rb') as fh:
        first = fh.readline().decode('ascii').rstrip('\n')
    if first.startswith('# error: '):
        want = path + ':' + first[len('# error: '):]
        for mode in (['--check'], []):
            p = subprocess.run([tdxsim, 'run'] + mode + [path], capture_output=True, timeout=60)
            err = p.stderr.decode('utf-8', 'replace').rstrip('\n')
            out = p.stdout.decode('utf-8', 'replace')
            ok = p.returncode == 2 and err == want and \
                not re.search(r'^\S+\s+(pass|skip)\s', out, re.M)
            result(ok, f + ' ' + ' '.join(mode),
                   ['exit %d (want 2)' % p.returncode, 'got:  ' + err, 'want: ' + want])
    elif first.startswith('# fail: '):
        want = path + ':' + first[len('# fail: '):]
        p = subprocess.run([tdxsim, 'run', '--check', path], capture_output=True, timeout=60)
        result(p.returncode == 0 and not p.stderr, f + ' --check',
               ['exit %d (want 0)' % p.returncode, p.stderr.decode('utf-8', 'replace')])
        p = subprocess.run([tdxsim, 'run', path], capture_output=True, timeout=120)
        out = p.stdout.decode('utf-8', 'replace').splitlines()
        got = out[0] if out else ''
        ok = p.returncode == 1 and got == want and \
            any(re.match(r'^\S+\s+FAIL\s', line) for line in out) and \
            any('trace event' in line for line in out)
        result(ok, f, ['exit %d (want 1)' % p.returncode, 'got:  ' + got, 'want: ' + want])
    else:
        result(False, f, ['first line is neither "# error: " nor "# fail: "'])
sys.exit(1 if failed else 0)
