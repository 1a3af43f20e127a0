"""README.md quotes the lesson: every quoted line and number must be what the lesson prints today."""

from __future__ import annotations

import re

import pytest
from conftest import ROOT

README = (ROOT / "README.md").read_text(encoding="utf-8")
NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?:e[+-]?\d+)?%?")  # 7, -0.4443, 3.46e-05, 22.3%
FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def lesson_sections() -> dict[str, str]:
    """The README's sections that mirror the lesson's: '## 1. ...' to '## 7. ...'."""
    parts = re.split(r"^## ", README, flags=re.MULTILINE)
    sections = {part.split("\n", 1)[0]: part.split("\n", 1)[1] for part in parts[1:] if re.match(r"\d\. ", part)}
    assert len(sections) == 7, f"expected the seven lesson sections in README.md, found {list(sections)}"
    return sections


def prose(text: str) -> str:
    """The running text: no code blocks, no `inline code` (commands, not results), no images or tables."""
    text = re.sub(r"`[^`]*`", "", FENCE.sub("", text))
    return "\n".join(line for line in text.splitlines() if not line.startswith(("![", "|")))


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


def test_images_exist() -> None:
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", README)
    assert len(images) >= 8
    for image in images:
        assert (ROOT / image).is_file(), f"README.md shows {image}, which is not in the repository"


def test_ci_runs_the_readme_test_command() -> None:
    first_block = FENCE.search(README).group(2).splitlines()
    test_command = first_block[1].strip()
    assert test_command == "python -m pytest", first_block
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert [line.strip() for line in ci if line.strip() and not line.startswith("#")][-1] == test_command
