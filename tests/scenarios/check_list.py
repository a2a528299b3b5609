#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Every *.tdx of tests/scenarios (argv[2]) is run: meson made one test per
file it saw when it configured (argv[3:]); a file added since would be left
out until the next reconfigure, so this test runs those itself with
`tdxsim run` (argv[1]) and fails if one of them fails."""
import os
import subprocess
import sys

tdxsim, sdir = sys.argv[1], sys.argv[2]
have = sorted(f for f in os.listdir(sdir) if f.endswith('.tdx'))
known = set(f for f in sys.argv[3:] if f)
new = [f for f in have if f not in known]
gone = sorted(known - set(have))
if gone:
    print('gone since meson configured (their tests will fail): %s' % gone)
if not new:
    print('%d scenario files, each its own test' % len(have))
    sys.exit(0)
print('%d scenario file(s) added since meson configured, run here (meson setup '
      '--reconfigure BUILDDIR makes each its own test): %s' % (len(new), new))
p = subprocess.run([tdxsim, 'run'] + [os.path.join(sdir, f) for f in new], timeout=600)
sys.exit(p.returncode)
