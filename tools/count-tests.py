#!/usr/bin/env python3
"""count-tests.py TESTLOG.json — reads meson's test log and prints "N passed, N failed" on a
line of its own: each check test case counts (from check's "Checks: N, Failures: F, Errors: E"
summary), a test without such a summary counts once. A test that meson saw fail but whose
summary shows no failure (a crash, a timeout) adds one failure. Exit status 1 on any failure."""
import json
import re
import sys

SUMMARY = re.compile(r'Checks: (\d+), Failures: (\d+), Errors: (\d+)')


def main():
    passed = failed = 0
    try:
        lines = open(sys.argv[1]).read().splitlines()
    except OSError as e:
        print(f'count-tests: {e}')
        print('0 passed, 1 failed')
        return 1
    for line in lines:
        if not line.strip():
            continue
        t = json.loads(line)
        ok = t.get('result') in ('OK', 'EXPECTEDFAIL', 'SKIP')
        found = SUMMARY.findall(t.get('stdout') or '')
        if found:
            checks = sum(int(c) for c, _, _ in found)
            bad = sum(int(f) + int(e) for _, f, e in found)
            passed += checks - bad
            failed += bad
            if not ok and bad == 0:
                failed += 1
        elif ok:
            passed += 1
        else:
            failed += 1
    print(f'{passed} passed, {failed} failed')
    return 1 if failed or passed == 0 else 0


if __name__ == '__main__':
    sys.exit(main())
