#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Parser errors of the scenario language: each tests/scenarios/bad/*.tdx says,
in its first line '# error: LINE:COL: MESSAGE', what `tdxsim run --check`
must print (FILE:LINE:COL: MESSAGE, one line on stderr) and the exit code must
be 2; `tdxsim run FILE` must refuse it the same way, before running anything.
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
for f in files:
    path = os.path.join(bad_dir, f)
    with open(path, 'rb') as fh:
        first = fh.readline().decode('ascii').rstrip('\n')
    assert first.startswith('# error: '), path
    want = path + ':' + first[len('# error: '):]
    for mode in (['--check'], []):
        n += 1
        p = subprocess.run([tdxsim, 'run'] + mode + [path], capture_output=True, timeout=60)
        err = p.stderr.decode('utf-8', 'replace').rstrip('\n')
        out = p.stdout.decode('utf-8', 'replace')
        ok = p.returncode == 2 and err == want and not re.search(r'^\S+\s+(pass|skip)\s', out, re.M)
        if not ok:
            failed += 1
            print('not ok %d - %s %s' % (n, f, ' '.join(mode)))
            print('#  exit %d (want 2)' % p.returncode)
            print('#  got:  %s' % err)
            print('#  want: %s' % want)
        else:
            print('ok %d - %s %s' % (n, f, ' '.join(mode)))
sys.exit(1 if failed else 0)
