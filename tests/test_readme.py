"""README.md quotes the lesson: every quoted line and number must be what the lesson prints today."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import ROOT

from grader.harness import PNG_MAGIC

README = (ROOT / "README.md").read_text(encoding="utf-8")
NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?:e[+-]?\d+)?%?")  # 7, -0.4443, 3.46e-05, 22.3%
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def lesson_sections() -> dict[str, str]:
    """The README's sections that mirror the lesson's: '## 1. ...' to '## 8. ...'."""
    parts = re.split(r"^## ", README, flags=re.MULTILINE)
    sections = {part.split("\n", 1)[0]: part.split("\n", 1)[1] for part in parts[1:] if re.match(r"\d\. ", part)}
    assert len(sections) == 8, f"expected the eight lesson sections in README.md, found {list(sections)}"
    return sections


def prose(text: str) -> str:
    """The running text: no code blocks, no `inline code` (commands, not results), no images or tables."""
    text = re.sub(r"`[^`]*`", "", FENCE.sub("", text))
    return "\n".join(line for line in text.splitlines() if not line.startswith(("![", "|", "<img")))


@pytest.mark.parametrize("heading", list(lesson_sections()))
def test_quoted_output_is_what_the_lesson_prints(heading: str, lesson_output: str) -> None:
    printed = {line.rstrip() for line in lesson_output.splitlines()}
    for language, block in FENCE.findall(lesson_sections()[heading]):
        if language != "text":
            continue
        for line in block.splitlines():
            assert line.rstrip() in printed, (
                f"README section '{heading}' quotes a line the lesson does not print:\n{line}"
            )


@pytest.mark.parametrize("heading", list(lesson_sections()))
def test_numbers_in_the_text_are_printed_by_the_lesson(heading: str, lesson_output: str) -> None:
    printed = set(NUMBER.findall(lesson_output))
    quoted = NUMBER.findall(prose(lesson_sections()[heading]))
    missing = [number for number in quoted if number not in printed]
    assert not missing, f"README section '{heading}' quotes numbers the lesson does not print: {missing}"


def test_every_section_has_output_quoted() -> None:
    for heading, text in lesson_sections().items():
        assert any(language == "text" for language, _ in FENCE.findall(text)), f"'{heading}' quotes no output"


IMAGE = re.compile(r'<img src="([^"]+)" width="(\d+)"')


def image_width(path: Path) -> int:
    data = path.read_bytes()
    if data.startswith(b"GIF8"):
        return int.from_bytes(data[6:8], "little")  # the logical screen width
    assert data.startswith(PNG_MAGIC), f"{path} is neither a PNG nor a GIF file"
    return int.from_bytes(data[16:20], "big")  # the IHDR chunk: width, then height


def test_images_are_crisp_at_their_page_width() -> None:
    images = IMAGE.findall(README)
    assert len(images) >= 8, "README.md should show the lesson's figures with <img src=... width=...>"
    for image, shown in images:
        path = ROOT / image
        assert path.is_file(), f"README.md shows {image}, which is not in the repository"
        width = image_width(path)
        assert width >= 700, f"{image} is {width} px wide; draw it at --dpi 192 so it is crisp"
        assert width == 2 * int(shown), (
            f"{image} is {width} px wide but shown {shown} px wide; show it at half its width, which is "
            "the figure's inches × 96, so that its 8 pt text reads as 8 pt"
        )


def code_lines(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.parametrize("heading", list(lesson_sections()))
def test_code_shown_is_copied_from_lesson_py(heading: str) -> None:
    source = code_lines(ROOT / "lesson.py")
    blocks = [block for language, block in FENCE.findall(lesson_sections()[heading]) if language == "python"]
    assert blocks, f"README section '{heading}' shows no ```python block from lesson.py"
    for block in blocks:
        shown = [line.strip() for line in block.splitlines() if line.strip()]
        # The lines must appear in lesson.py in the same order (lines in between may be left out).
        position = 0
        for line in shown:
            try:
                position = source.index(line, position) + 1
            except ValueError:
                pytest.fail(
                    f"README section '{heading}' shows a line that lesson.py does not have "
                    f"(or not in this order):\n{line}",
                    pytrace=False,
                )


def test_ci_runs_the_readme_test_command() -> None:
    first_block = FENCE.search(README).group(2).splitlines()
    test_command = first_block[1].strip()
    assert test_command == "python -m pytest", first_block
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert [line.strip() for line in ci if line.strip() and not line.startswith("#")][-1] == test_command
