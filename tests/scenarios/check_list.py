#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""The scenario files meson configured a test for (argv[2:]) are the *.tdx of
tests/scenarios (argv[1]): a file added since would be silently left out."""
import os
import sys

have = sorted(f for f in os.listdir(sys.argv[1]) if f.endswith('.tdx'))
known = sorted(f for f in sys.argv[2:] if f)
if have != known:
    print('tests/scenarios changed since meson configured: new %s, gone %s' %
          (sorted(set(have) - set(known)), sorted(set(known) - set(have))))
    print('run: meson setup --reconfigure BUILDDIR')
    sys.exit(1)
print('%d scenario files, each a test' % len(have))
