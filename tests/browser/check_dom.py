"""Checks the DOM of a rendered sweep report against its summary.csv.

The page must have run its script (body data-ok="1", no data-error), and
every chart must have the series and points the summary implies:

- for each key metric (columns *_mean) and each numeric swept key (or each
  swept key, when none is numeric): one series per combination of the other
  swept keys, one point per row whose mean is not empty;
- the throughput-versus-latency scatter: one point per row with both
  metrics, and a non-empty Pareto front.

Usage: check_dom.py DOM.html SUMMARY.csv
"""
import csv
import sys
from html.parser import HTMLParser



class Dom(HTMLParser):
    def __init__(self):
        super().__init__()
        self.body = {}
        self.charts = {}
        self.current = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "body":
            self.body = a
        elif tag == "svg" and "data-chart" in a:
            self.current = {"svg": a, "series": [], "front": None}
            self.charts[a["data-chart"]] = self.current
        elif tag == "g" and self.current is not None:
            if a.get("class") == "series":
                self.current["series"].append(int(a["data-points"]))
            elif a.get("class") == "front":
                self.current["front"] = int(a["data-points"])

    def handle_endtag(self, tag):
        if tag == "svg":
            self.current = None


def fail(msg):
    print("check_dom: " + msg, file=sys.stderr)
    sys.exit(1)


def is_number(text):
    try:
        float(text)
        return True
    except ValueError:
        return False


def main(dom_path, summary_path):
    dom = Dom()
    with open(dom_path, encoding="utf-8") as f:
        dom.feed(f.read())
    if dom.body.get("data-ok") != "1":
        fail("the page's script did not run to the end (no data-ok on <body>)")
    if "data-error" in dom.body:
        fail("script error: " + dom.body["data-error"])

    with open(summary_path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        header = reader.fieldnames
        rows = list(reader)
    keys = header[header.index("sweep") + 1:header.index("runs")]
    numeric = [k for k in keys if all(is_number(r[k]) for r in rows)]
    x_keys = numeric or keys

    # The key metrics are the summary's metrics: every column with a mean.
    key_metrics = [c[:-len("_mean")] for c in header if c.endswith("_mean")]
    if not key_metrics:
        fail("the summary has no *_mean columns")
    expected = {}
    for metric in key_metrics:
        for x in x_keys:
            present = [r for r in rows if r[metric + "_mean"] != ""]
            others = [k for k in keys if k != x]
            combos = {tuple(r[k] for k in others) for r in present}
            expected[f"{metric} vs {x}"] = (len(combos), len(present))
    both = [r for r in rows if r["e2e_ms_p99_mean"] and r["output_tokens_per_sec_mean"]]
    text_keys = [k for k in keys if k not in numeric]
    colours = {r[text_keys[0]] for r in both} if text_keys else ({"all"} if both else set())
    expected["throughput vs latency"] = (len(colours), len(both))

    if set(dom.charts) != set(expected):
        fail(f"charts differ: missing {sorted(set(expected) - set(dom.charts))}, "
             f"unexpected {sorted(set(dom.charts) - set(expected))}")
    for name, (series, points) in expected.items():
        chart = dom.charts[name]
        got = (int(chart["svg"]["data-series"]), int(chart["svg"]["data-points"]))
        drawn = (len(chart["series"]), sum(chart["series"]))
        if got != (series, points) or drawn != (series, points):
            fail(f"chart '{name}': expected {series} series and {points} points, "
                 f"the svg says {got}, its groups hold {drawn}")
    front = dom.charts["throughput vs latency"]["front"]
    if not front or front > len(both):
        fail(f"the scatter's Pareto front has {front} points")
    print(f"check_dom: {len(expected)} charts with the expected series and points, "
          f"{len(rows)} summary rows")


if __name__ == "__main__":
    main(*sys.argv[1:])
