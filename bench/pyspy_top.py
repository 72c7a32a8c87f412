"""Summarise a py-spy raw profile (BENCH_PYSPY): `python -m bench.pyspy_top FILE [FILTER] [N]`.

Prints the share of samples (inclusive) of the hottest functions, optionally only among stacks
that contain FILTER (e.g. `detail (services/goods.py` or `QueryHandler`)."""
import collections
import re
import sys


def load(path, only=None):
    stacks = []
    with open(path) as f:
        for line in f:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            if not count.isdigit() or (only and only not in stack):
                continue
            frames = [re.sub(r":\d+\)$", ")", fr) for fr in stack.split(";")[1:]]
            stacks.append((frames, int(count)))
    return stacks


def main(argv):
    path = argv[0]
    only = argv[1] if len(argv) > 1 and argv[1] else None
    n = int(argv[2]) if len(argv) > 2 else 30
    total_all = sum(c for _, c in load(path))
    stacks = load(path, only)
    total = sum(c for _, c in stacks)
    incl, own = collections.Counter(), collections.Counter()
    for frames, c in stacks:
        for fr in set(frames):
            incl[fr] += c
        if frames:
            own[frames[-1]] += c
    print("%d samples of %d (%.0f %%)%s" % (total, total_all, 100.0 * total / max(total_all, 1),
                                            " containing %r" % only if only else ""))
    print("inclusive:")
    for fr, c in incl.most_common(n):
        print("  %5.1f %%  %s" % (100.0 * c / max(total, 1), fr))
    print("self:")
    for fr, c in own.most_common(n // 2):
        print("  %5.1f %%  %s" % (100.0 * c / max(total, 1), fr))


if __name__ == "__main__":
    main(sys.argv[1:])
