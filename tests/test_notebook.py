"""One real notebook run: lesson.py opened as a notebook (jupytext) and executed cell by cell (nbclient).

The notebook packages are not in requirements.txt. Where they are missing the test is skipped with
the command that installs them; CI installs them and sets LESSON_NOTEBOOK_TEST=required, so there
it cannot be skipped.

The kernel talks to this process over Unix sockets in a folder of its own, where there are Unix
sockets. Over TCP, jupyter_client picks five free ports, closes them, and only then does the
kernel bind them: another process on the machine (another test run starting a kernel) can take
one in between, and the kernel dies before it answers. nbclient then clears its kernel manager
and, at exit, its cleanup fails on `assert self.km is not None`. Socket files in a fresh folder
cannot be taken.
"""

from __future__ import annotations

import importlib.util
import os
import re
import tempfile

import pytest
from conftest import ROOT, SectionsAlone, where_files_went_left_out

import lesson
from lesson_support.runtime import GOING_DEEPER_MARK

NOTEBOOK_PACKAGES = ("jupytext", "nbclient", "ipykernel", "nbconvert")
NOTEBOOK_LIMIT = 900.0  # seconds for the whole notebook, kernel start included: a hang guard only
HEADING = re.compile(r"^== (\d)\. ", re.MULTILINE)


def _notebook_packages() -> None:
    missing = [name for name in NOTEBOOK_PACKAGES if importlib.util.find_spec(name) is None]
    if not missing:
        return
    message = (
        f"the notebook test needs {', '.join(missing)}; run it with: "
        f"pip install {' '.join(NOTEBOOK_PACKAGES)} && python -m pytest tests/test_notebook.py"
    )
    if os.environ.get("LESSON_NOTEBOOK_TEST") == "required":
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="module")
def executed() -> object:
    """lesson.py as a notebook, every cell executed top to bottom in a fresh kernel."""
    _notebook_packages()
    import jupytext
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError
    from traitlets.config import Config

    # A short folder: a Unix socket's path may hold about 100 characters (104 on macOS, whose
    # temporary folders are long), so the sockets go under /tmp where there is one.
    with tempfile.TemporaryDirectory(prefix="kernel-", dir="/tmp" if os.path.isdir("/tmp") else None) as folder:
        config = Config()
        if os.name == "posix":  # sockets no other process can take: see the module's docstring
            config.KernelManager.transport = "ipc"
            config.KernelManager.ip = os.path.join(folder, "socket")
        notebook = jupytext.read(ROOT / "lesson.py")
        client = NotebookClient(
            notebook,
            timeout=NOTEBOOK_LIMIT,
            kernel_name="python3",
            resources={"metadata": {"path": str(ROOT)}},
            config=config,
        )
        try:
            client.execute()
        except CellExecutionError as error:
            pytest.fail(f"a cell of lesson.py failed when run as a notebook:\n{error}", pytrace=False)
    return notebook


def _text(cell: dict) -> str:
    return "".join(output.get("text", "") for output in cell.get("outputs", []) if output["output_type"] == "stream")


def _images(cell: dict, kind: str = "image/png") -> int:
    return sum(kind in output.get("data", {}) for output in cell.get("outputs", []))


@pytest.mark.time_limit(NOTEBOOK_LIMIT)
def test_each_section_narrates_under_its_own_cell(executed, sections_alone: SectionsAlone) -> None:
    # As many inline figures per section as the section emits when run in-process.
    per_section = {number: len(names) for number, names in enumerate(sections_alone.by_section.values(), start=1)}
    code_cells = [cell for cell in executed.cells if cell.cell_type == "code"]
    seen = []
    for index, cell in enumerate(code_cells):
        headings = [int(number) for number in HEADING.findall(_text(cell))]
        assert len(headings) <= 1, f"code cell {index} printed sections {headings}; each belongs under its own cell"
        seen += headings
        if headings:
            section = headings[0]
            assert f"run_in_notebook(section_{list(lesson.SECTIONS)[section - 1]})" in cell.source, (
                f"section {section}'s output appeared under a cell that does not run it"
            )
            assert _images(cell) == per_section[section], (
                f"section {section} showed {_images(cell)} inline figures, expected {per_section[section]}"
            )
        elif "run_in_notebook(deeper_" in cell.source:
            printed = _text(cell)
            assert printed.lstrip("\n").startswith(GOING_DEEPER_MARK) and printed.count(GOING_DEEPER_MARK) == 1, (
                f"code cell {index} should print one optional part under its own heading:\n{printed[:200]}"
            )
            assert not _images(cell), f"an optional part drew a figure in code cell {index}"
        elif "run_in_notebook(animate_descent)" in cell.source:
            assert _images(cell, "image/gif") == 1 and not _text(cell), "the descent should play under its cell"
        else:
            assert not _text(cell) and not _images(cell), f"code cell {index} printed outside a section:\n{cell.source}"
    assert seen == list(range(1, len(lesson.SECTIONS) + 1)), (
        f"the sections ran in the order {seen}; each should run once, in order"
    )


def test_section_headings_are_markdown_cells(executed) -> None:
    titles = [
        line
        for cell in executed.cells
        if cell.cell_type == "markdown"
        for line in cell.source.splitlines()
        if re.match(r"## \d\. ", line)
    ]
    assert [title[3] for title in titles] == [str(n) for n in range(1, len(lesson.SECTIONS) + 1)], titles


def test_the_notebook_prints_what_the_script_prints(executed, deeper_output: str) -> None:
    printed = "".join(_text(cell) for cell in executed.cells if cell.cell_type == "code")
    assert "a notebook shows figures inline and keeps no files" in printed
    assert where_files_went_left_out(printed) == where_files_went_left_out(deeper_output)


def test_each_optional_part_sits_under_a_heading_that_says_it_is_optional(executed) -> None:
    cells = executed.cells
    runs = [k for k, cell in enumerate(cells) if cell.cell_type == "code" and "run_in_notebook(deeper_" in cell.source]
    assert len(runs) == len(lesson.GOING_DEEPER), f"expected one cell for each of {list(lesson.GOING_DEEPER)}"
    for k in runs:
        above = [cell for cell in cells[:k] if cell.cell_type == "markdown"][-1].source
        assert above.startswith("### Going deeper (optional): "), f"the optional cell {k} sits under:\n{above}"


IMG = re.compile(r"<img\b[^>]*>")


def test_the_html_export_shows_every_figure_with_alt_text(executed, sections_alone: SectionsAlone) -> None:
    # As `jupyter nbconvert --to html lesson.ipynb` writes it: the GIF plays, and every image says what it shows.
    from nbconvert import HTMLExporter

    html, _ = HTMLExporter().from_notebook_node(executed)
    assert "IPython.core.display.Image object" not in html, "an image was exported as its text placeholder"
    images = IMG.findall(html)
    figures = len(sections_alone.figures)
    assert sum("data:image/png;base64," in tag for tag in images) == figures, f"expected {figures} PNG figures"
    assert sum("data:image/gif;base64," in tag for tag in images) == 1, "the descent GIF should be in the page"
    for tag in images:
        alt = re.search(r'alt="([^"]*)"', tag)
        assert alt and alt.group(1).startswith("Figure: "), f"an image without alt text: {tag[:40]}...{tag[-80:]}"
    for cell in executed.cells:
        for output in cell.get("outputs", []):
            for kind in ("image/png", "image/gif"):
                if kind in output.get("data", {}):
                    assert output["metadata"][kind]["alt"].startswith("Figure: "), output["metadata"]
