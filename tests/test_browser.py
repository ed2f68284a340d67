"""The widgets in a real browser: JupyterLab in headless Chromium, driven by Playwright.

A JupyterLab server runs on a copy of ``notebooks/`` (so nothing committed is touched); Chromium
opens the notebooks, runs all cells, types into the ChatWidget and drives the SweepWidget. The
screenshots land in ``artifacts/browser/`` (``$AGENTLAB_ARTIFACTS`` overrides it).

Needs Debian's ``chromium`` (``.ci/run`` and ``make test`` install it). Without it the test is
skipped on a developer machine and fails under CI (``CI=true``), so CI cannot pass without it.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARTIFACTS = Path(os.environ.get("AGENTLAB_ARTIFACTS", ROOT / "artifacts")) / "browser"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]  # fmt: skip

pytestmark = pytest.mark.timeout(420)


def _need_browser() -> None:
    missing = [what for what, ok in (("chromium", Path(CHROMIUM).exists()), ("playwright", _has("playwright"))) if not ok]
    if missing:
        message = f"the browser test needs {', '.join(missing)} (make test installs them)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


def _has(module: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(module) is not None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    _need_browser()
    home = tmp_path_factory.mktemp("lab")
    work = home / "notebooks"
    shutil.copytree(ROOT / "notebooks", work, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    settings = home / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    # no "news" toast over the widgets
    (settings / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false", "checkForUpdates": False}))
    # every cell in the DOM (JupyterLab 4 otherwise detaches cells scrolled out of view)
    tracker = home / "settings" / "@jupyterlab" / "notebook-extension"
    tracker.mkdir(parents=True)
    (tracker / "tracker.jupyterlab-settings").write_text(json.dumps({"windowingMode": "none", "autoStartDefaultKernel": True}))
    port = _free_port()
    env = {
        **os.environ,
        "HOME": str(home),
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
    }
    env.pop("OPENAI_API_KEY", None)  # the notebooks' offline path
    cmd = [
        sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ip=127.0.0.1", "--allow-root",
        "--ServerApp.token=", "--ServerApp.password=", "--ServerApp.disable_check_xsrf=True",
        f"--ServerApp.root_dir={work}",
    ]  # fmt: skip
    log = open(home / "lab.log", "w")  # closed at teardown
    proc = subprocess.Popen(cmd, cwd=work, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            urllib.request.urlopen(f"{url}/api/status", timeout=1).read()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                log.close()
                raise RuntimeError(f"JupyterLab did not start:\n{(home / 'lab.log').read_text()[-3000:]}") from None
            time.sleep(0.3)
    yield url
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
    log.close()


@pytest.fixture(scope="module")
def browser(lab, tmp_path_factory):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium")),
            executable_path=CHROMIUM,
            headless=True,
            args=FLAGS,
            viewport={"width": 1280, "height": 2000},  # tall: whole widgets fit in one screenshot
        )
        errors: list[str] = []
        context.on("weberror", lambda e: errors.append(str(e.error)))
        yield context, errors
        context.close()


_ALL_RUN = """() => {
    const prompts = [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputPrompt')];
    return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
}"""


_CLEARED = """() => {
    const prompts = [...document.querySelectorAll('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputPrompt')];
    return prompts.length > 0 && prompts.every(p => !/\\[\\d+\\]/.test(p.textContent));
}"""


_STARTED = """() => {
    const first = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputPrompt');
    return first !== null && /\\[(\\d+|\\*)\\]/.test(first.textContent);
}"""


def _open_and_run_all(context, lab: str, notebook: str):
    for old in context.pages:  # one notebook at a time: the Run menu acts on the current one
        old.close()
    page = context.new_page()
    page.goto(f"{lab}/lab/tree/{notebook}?reset")  # a fresh workspace: only this notebook open
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000)
    _pages.append((page, notebook))
    # A kernel that has only just connected can drop the first requests: try run-all again if the
    # first cell has not started within 30 s. Then wait until every cell has run: a widget message sent while a cell
    # still runs is handled by ipykernel 7 without its busy/idle status, which leaves ipywidgets'
    # message throttle waiting forever (see docs/notebooks.md).
    for attempt in range(3):
        _menu(page, "Edit", "editmenu:clear-all")  # the saved prompts are numbered: clear them first
        try:
            # Under load the first kernel can be replaced while the page opens, and a clear sent then is
            # lost; saved prompts would then pass for a finished run.
            page.wait_for_function(_CLEARED, timeout=10_000)
        except Exception:
            continue
        _menu(page, "Run", "runmenu:run-all")
        try:
            page.wait_for_function(_STARTED, timeout=30_000)
        except Exception:
            if attempt == 2:
                raise
            page.wait_for_timeout(2_000)
            continue
        page.wait_for_function(_ALL_RUN, timeout=300_000)
        return page
    return page


def _open_widget(context, lab: str, notebook: str, css: str):
    """Run ``notebook`` and return (page, the first widget matching ``css``, scrolled into view)."""
    page = _open_and_run_all(context, lab, notebook)
    widget = page.locator(css).first
    widget.wait_for(state="attached", timeout=120_000)
    widget.scroll_into_view_if_needed()
    return page, widget


def _menu(page, menu: str, command: str) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text=menu).first.click()
    page.locator(f"li.lm-Menu-item[data-command='{command}']").click()


_pages: list = []


@pytest.fixture(autouse=True)
def _screenshot_on_failure(request):
    """A failing test leaves a full-page screenshot of what the browser showed."""
    _pages.clear()
    yield
    rep = getattr(request.node, "rep_call", None)
    if rep is not None and rep.failed:
        for page, notebook in _pages:
            page.screenshot(path=str(ARTIFACTS / f"FAILED-{notebook}.png"), full_page=True)


def _shot(locator, name: str) -> Path:
    path = ARTIFACTS / name
    locator.scroll_into_view_if_needed()
    locator.screenshot(path=str(path))
    return path


_FIGURE_FITS = """img => {
    const out = img.closest('.jp-OutputArea-output').getBoundingClientRect();
    const r = img.getBoundingClientRect();
    return {natural: img.naturalWidth, shown: r.width, left: r.left - out.left, right: out.right - r.right};
}"""


def _figures(page, notebook: str) -> list[Path]:
    """Screenshot every matplotlib figure the notebook shows, as it shows at notebook width, into
    ``artifacts/browser/figures/``; each must have loaded and fit its output area."""
    folder = ARTIFACTS / "figures"
    folder.mkdir(exist_ok=True)
    for old in folder.glob(f"{notebook[:2]}-*.png"):
        old.unlink()
    images = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-RenderedImage img")
    shots = []
    for i in range(images.count()):
        img = images.nth(i)
        img.scroll_into_view_if_needed()
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=img.element_handle(), timeout=10_000)
        box = img.evaluate(_FIGURE_FITS)
        assert box["left"] >= -1 and box["right"] >= -1, f"{notebook} figure {i + 1} runs out of its output area: {box}"
        assert box["shown"] >= 0.75 * box["natural"], f"{notebook} figure {i + 1} is shrunk to fit: {box}"
        shots.append(_shot(img, f"figures/{notebook[:2]}-figure-{i + 1}.png"))
    return shots


def test_chat_widget_in_jupyterlab(lab, browser):
    context, errors = browser
    page, chat = _open_widget(context, lab, "01-text-chat.ipynb", ".al-chat")
    page.locator(".al-transcript .al-agent", has_text="Welcome to Chez Lab").wait_for(timeout=30_000)
    box = chat.locator(".al-chat-input input")
    box.fill("Hi! Do you have a table for four at 7pm?")
    box.press("Enter")
    tool = chat.locator(".al-transcript .al-tool", has_text="check_availability")
    tool.wait_for(timeout=30_000)
    chat.locator(".al-transcript .al-agent", has_text="Good news").wait_for(timeout=30_000)
    chat.locator(".al-pill.al-listening", has_text="agent").wait_for(timeout=30_000)  # the reply has played
    assert "A table for 4 is available" in tool.inner_text()
    assert box.input_value() == ""
    box.fill("Great, it's under Rivera.")
    box.press("Enter")
    chat.locator(".al-transcript .al-tool", has_text="book_table").wait_for(timeout=30_000)
    chat.locator(".al-transcript .al-agent", has_text="You're all set").wait_for(timeout=30_000)
    chat.locator(".al-pill.al-listening", has_text="agent").wait_for(timeout=10_000)
    chat.get_by_role("button", name="Events").click()
    page.locator(".al-chat .al-table").first.wait_for(timeout=10_000)
    shot = _shot(chat, "01-chat-widget.png")
    assert shot.stat().st_size > 20_000
    _shot(page.locator(".jp-NotebookPanel").first, "01-notebook.png")
    assert not errors, errors


def test_conversation_widget_in_jupyterlab(lab, browser):
    context, errors = browser
    _, widget = _open_widget(context, lab, "02-recorded-conversation.ipynb", ".al-conversation")
    widget.locator("img.al-timeline").wait_for(timeout=30_000)
    assert widget.locator("img.al-timeline").get_attribute("src").startswith("blob:")
    widget.locator("audio").first.wait_for(state="attached", timeout=10_000)
    assert widget.locator(".lm-TabBar-tab", has_text="Events").count() == 1
    widget.locator(".lm-TabBar-tab", has_text="Events").click()
    widget.locator(".al-table", has_text="agent_state_changed").first.wait_for(timeout=10_000)
    _shot(widget, "02-conversation-widget.png")
    assert len(_figures(widget.page, "02-recorded-conversation.ipynb")) == 1  # run.timeline()
    assert not errors, errors


def test_sweep_widget_in_jupyterlab(lab, browser):
    context, errors = browser
    page, sweep = _open_widget(context, lab, "03-endpointing-sweep.ipynb", ".al-sweep")
    points = sweep.locator(".widget-inline-hbox", has_text="points").first.locator("input")
    points.fill("3")
    points.press("Enter")
    sweep.locator(".al-run").click()
    status = sweep.locator(".al-status")
    status.filter(has_text="3 settings × 22 conversations").wait_for(timeout=120_000)
    plot = sweep.locator(".al-plot")
    plot.wait_for(state="visible", timeout=10_000)
    first = plot.get_attribute("src")
    assert first and first.startswith(("blob:", "data:"))
    assert "Recommended" in sweep.locator(".al-best").inner_text() or "No setting" in sweep.locator(".al-best").inner_text()
    _shot(sweep, "03-sweep-widget.png")
    # every range readout shows its whole text, and the summary table fits the widget (no clipped columns)
    readouts = sweep.locator(".widget-readout").evaluate_all("els => els.map(e => [e.textContent, e.scrollWidth - e.clientWidth])")
    assert readouts and all(extra <= 1 for _, extra in readouts), readouts
    fits = sweep.locator(".al-summary .al-table").evaluate(
        "t => { const w = t.closest('.al-sweep').getBoundingClientRect(), r = t.getBoundingClientRect();"
        " return [r.right - w.right, t.parentElement.scrollWidth - t.parentElement.clientWidth]; }"
    )
    assert fits[0] <= 1 and fits[1] <= 1, f"the summary table overflows by {fits} px"
    assert len(_figures(page, "03-endpointing-sweep.ipynb")) == 3  # trade-off, latency distribution, heatmap
    # change another control: compare preemptive on/off → 6 settings, a new plot
    sweep.get_by_text("compare preemptive generation on / off").click()
    sweep.locator(".al-run").click()
    status.filter(has_text="6 settings × 22 conversations").wait_for(timeout=120_000)
    page.wait_for_function("([el, old]) => el.getAttribute('src') !== old", arg=[plot.element_handle(), first], timeout=10_000)
    picker = sweep.locator("select").nth(1)
    picker.select_option(index=0)
    sweep.locator(".al-conversation").first.wait_for(timeout=120_000)
    _shot(sweep, "03-sweep-widget-after-change.png")
    assert not errors, errors


@pytest.mark.parametrize(
    ("notebook", "figures"), [("04-interruptions.ipynb", 3), ("05-preemptive-generation.ipynb", 1), ("06-tool-steps.ipynb", 1)]
)
def test_notebook_figures_at_notebook_width(lab, browser, notebook, figures):
    """The other notebooks' figures, as a reader sees them: loaded, fitting the column, screenshotted."""
    context, errors = browser
    page = _open_and_run_all(context, lab, notebook)
    assert len(_figures(page, notebook)) == figures
    assert not errors, errors
