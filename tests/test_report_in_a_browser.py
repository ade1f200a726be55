"""The HTML report in a real headless browser (Chromium from the system's packages; `.ci/run`
installs it when missing): it loads with no broken image or anchor and no horizontal overflow
in a 1280 px window, and a screenshot is saved next to it."""

import json
import re
import shutil
import subprocess

import pytest

import sgdlab
from analysis import write_run_report

BROWSER = next((b for b in ("chromium", "chromium-browser") if shutil.which(b)), None)

# appended to a copy of the page: what a reader would see go wrong, written into the DOM
PROBE = """
<script>
window.addEventListener('load', () => {
  const broken = [...document.images].filter(i => !i.complete || i.naturalWidth === 0).length;
  const ids = new Set([...document.querySelectorAll('[id]')].map(e => e.id));
  const anchors = [...document.querySelectorAll('a[href^="#"]')]
    .map(a => a.getAttribute('href').slice(1)).filter(h => !ids.has(h));
  const root = document.documentElement;
  const probe = {broken_images: broken, images: document.images.length,
                 missing_anchors: anchors, links: document.querySelectorAll('a[href^="#"]').length,
                 scroll_width: root.scrollWidth, client_width: root.clientWidth};
  document.body.setAttribute('data-probe', JSON.stringify(probe));
});
</script>
"""


def _chromium(*args, cwd):
    return subprocess.run(
        [BROWSER, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--window-size=1280,900", "--virtual-time-budget=5000", *args],
        capture_output=True, text=True, timeout=120, cwd=cwd,
    )  # fmt: skip


@pytest.mark.slow
@pytest.mark.skipif(BROWSER is None, reason="no Chromium on this machine (.ci/run installs it)")
def test_the_report_loads_cleanly_at_1280_px_and_is_photographed(tmp_path):
    ds = sgdlab.run(["problem.n=60", "problem.d=4", "steps=100", "replicates=8"])
    paths = write_run_report(ds, tmp_path)
    page = paths["report_html"].read_text(encoding="utf-8")
    probed = tmp_path / "probed.html"
    probed.write_text(page.replace("</body>", PROBE + "</body>"), encoding="utf-8")
    dom = _chromium("--dump-dom", probed.as_uri(), cwd=tmp_path)
    assert dom.returncode == 0, dom.stderr[-2000:]
    found = re.search(r"data-probe=\"([^\"]*)\"", dom.stdout)
    assert found, "the page did not finish loading"
    probe = json.loads(found.group(1).replace("&quot;", '"'))
    assert probe["images"] >= 3 and probe["broken_images"] == 0, probe
    assert probe["links"] >= 3 and probe["missing_anchors"] == [], probe
    assert probe["scroll_width"] <= probe["client_width"], probe  # no horizontal overflow
    shot = tmp_path / "report_1280.png"
    out = _chromium(f"--screenshot={shot}", paths["report_html"].as_uri(), cwd=tmp_path)
    assert out.returncode == 0 and shot.stat().st_size > 10_000, out.stderr[-2000:]
