"""The reader's book in a browser: each chapter page's weight and how fast its demos switch.

    .venv/bin/python benchmarks/book_pages.py [_build/html]

Serves the built book on localhost and opens every chapter page in headless Chromium (as the
browser tests do, tests/browser.py). Prints a Markdown table per chapter page:

- weight: the bytes of the page's own HTML (the demos' figures are inside it) and its images,
  and everything a first visit with an empty cache loads (theme, scripts, MathJax, fonts);
- switch: for every demo control and every value on its grid, the time from the control's
  change to the new figure decoded and the next frame drawn (performance.now() in the page);
  median and worst per page.
"""
from __future__ import annotations

import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from browser import browser_problem, chromium, serve  # noqa: E402

SWITCH = """async (index) => {
  const demo = document.querySelectorAll(".dltips-demo")[index];
  const img = demo.querySelector("img.dltips-demo-figure");
  const times = [];
  for (const control of demo.querySelectorAll("[data-control]")) {
    const count = control.tagName === "SELECT" ? control.options.length : Number(control.max) + 1;
    const start = control.tagName === "SELECT" ? control.selectedIndex : Number(control.value);
    for (let step = 1; step <= count; step++) {
      const value = (start + step) % count;
      const t0 = performance.now();
      if (control.tagName === "SELECT") control.selectedIndex = value; else control.value = value;
      control.dispatchEvent(new Event("input", {bubbles: true}));
      await img.decode();
      await new Promise(r => requestAnimationFrame(() => r()));
      times.push(performance.now() - t0);
    }
  }
  return times;
}"""


def measure(browser, base: str, path: str) -> dict:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    sizes: dict[str, int] = {}

    def record(response):
        try:
            sizes[response.url] = len(response.body())
        except Exception:  # noqa: BLE001 - a redirect or an aborted request has no body
            pass
    page.on("response", record)
    page.goto(base + path, wait_until="networkidle")
    demos = page.locator(".dltips-demo").count()
    times = [t for i in range(demos) for t in page.evaluate(SWITCH, i)]
    context.close()
    own = sum(n for url, n in sizes.items()
              if url.endswith(path) or "/_images/" in url)
    return {"page": path, "own": own, "all": sum(sizes.values()), "demos": demos,
            "switches": len(times), "median": statistics.median(times) if times else 0.0,
            "worst": max(times) if times else 0.0}


def main() -> None:
    html = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "_build" / "html"
    problem = browser_problem()
    if problem:
        sys.exit(f"cannot measure: {problem}")
    chapters = sorted((html / "book").glob("ch*.html"))
    if not chapters:
        sys.exit(f"no chapter pages in {html}: build the book first (python3.11 dev.py book)")
    rows = []
    with serve(html) as base, chromium() as browser:
        for chapter in chapters:
            rows.append(measure(browser, base, f"book/{chapter.name}"))
    print("| page | own HTML + images (MB) | first visit, all files (MB) | demos | switches "
          "| median switch (ms) | worst switch (ms) |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        print(f"| {r['page']} | {r['own'] / 1e6:.2f} | {r['all'] / 1e6:.2f} | {r['demos']} | "
              f"{r['switches']} | {r['median']:.1f} | {r['worst']:.1f} |")


if __name__ == "__main__":
    main()
