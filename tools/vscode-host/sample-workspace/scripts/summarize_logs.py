"""Summarise an access log: requests per status code and the slowest paths."""

import argparse
import re
from collections import Counter, defaultdict
from pathlib import Path

LINE = re.compile(r'"(?P<method>[A-Z]+) (?P<path>\S+) [^"]*" (?P<status>\d{3}) (?P<ms>\d+)ms')


def parse(path: Path):
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            match = LINE.search(line)
            if match:
                yield match["method"], match["path"], int(match["status"]), int(match["ms"])


def summarize(path: Path, top: int = 5) -> dict:
    statuses = Counter()
    durations = defaultdict(list)
    for _method, url, status, ms in parse(path):
        statuses[status] += 1
        durations[url].append(ms)
    slowest = sorted(durations.items(), key=lambda kv: max(kv[1]), reverse=True)[:top]
    return {
        "statuses": dict(statuses),
        "slowest": [(url, max(times), sum(times) / len(times)) for url, times in slowest],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("log", type=Path)
    parser.add_argument("--top", type=int, default=5)
    args = parser.parse_args()
    report = summarize(args.log, args.top)
    for status, count in sorted(report["statuses"].items()):
        print(f"{status}: {count}")
    for url, worst, mean in report["slowest"]:
        print(f"{url}  max {worst} ms  mean {mean:.1f} ms")


if __name__ == "__main__":
    main()
