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


def last_digit(number: str) -> float:
    """One unit in a printed number's last digit: 0.0001 for 0.0357, 1 for 144, 1e+35 for 2.16e+37, 0.1 for 22.3%."""
    mantissa, _, exponent = number.rstrip("%").partition("e")
    decimals = len(mantissa.partition(".")[2])
    return 10.0 ** (int(exponent or 0) - decimals)


def matches(quoted: str, printed: str) -> bool:
    """Whether a quoted line is a printed one: every word the same, every number within one unit of its last digit.

    A machine whose math library rounds differently, such as an ARM laptop, may print a number one
    unit off in its last digit; the lesson prints no digit that this machine's code paths can move.
    """
    quoted, printed = quoted.rstrip(), printed.rstrip()
    if NUMBER.split(quoted) != NUMBER.split(printed):
        return False
    pairs = zip(NUMBER.findall(quoted), NUMBER.findall(printed), strict=True)
    return all(
        last_digit(q) == last_digit(p)
        and abs(float(q.rstrip("%")) - float(p.rstrip("%"))) <= last_digit(q) * (1 + 1e-9)
        for q, p in pairs
    )


def find(printed: list[str], line: str, start: int = 0) -> int:
    """The index of the first printed line from `start` that the quoted line matches, exactly if one does; else -1."""
    for same in (lambda one: one.rstrip() == line.rstrip(), lambda one: matches(line, one)):
        found = next((index for index in range(start, len(printed)) if same(printed[index])), -1)
        if found != -1:
            return found
    return -1


def test_a_quoted_number_may_be_one_unit_off_in_its_last_digit() -> None:
    printed = "  lr 0.9   validation loss 15.2250: jumping, 8.4839 to 20.6448, 2.16e+37, 22.3%"
    assert matches(printed, printed)
    assert matches(printed.replace("20.6448", "20.6447"), printed)
    assert matches(printed.replace("20.6448", "20.6449"), printed)
    assert matches(printed.replace("2.16e+37", "2.17e+37").replace("22.3%", "22.2%"), printed)
    assert not matches(printed.replace("20.6448", "20.6446"), printed), "two units off in the last digit"
    assert not matches(printed.replace("2.16e+37", "2.14e+37"), printed), "two units off in the last digit"
    assert not matches(printed.replace("20.6448", "20.645"), printed), "a number quoted with fewer digits"
    assert not matches(printed.replace("jumping", "level"), printed), "a word changed"
    assert find([printed.replace("20.6448", "20.6447"), printed], printed) == 1, "an exact match comes first"


@pytest.mark.parametrize("heading", list(lesson_sections()))
def test_quoted_output_is_what_the_lesson_prints(heading: str, deeper_output: str) -> None:
    printed = deeper_output.splitlines()
    for language, block in FENCE.findall(lesson_sections()[heading]):
        if language != "text":
            continue
        quoted = block.splitlines()
        for line in quoted:
            assert find(printed, line) != -1, (
                f"README section '{heading}' quotes a line the lesson does not print:\n{line}"
            )
        out_of_order = in_printed_order(printed, quoted)
        assert not out_of_order, f"README section '{heading}' quotes this line out of order, or twice:\n{out_of_order}"
        cut = cut_off(printed, quoted[-1])
        assert not cut, f"README section '{heading}' ends a quote mid-sentence; the lesson goes on:\n{cut}"


def in_printed_order(printed: list[str], quoted: list[str]) -> str | None:
    """The first quoted line that the lesson does not print after the lines quoted before it, or None."""
    position = 0
    for line in quoted:
        position = find(printed, line, position) + 1
        if not position:
            return line
    return None


def test_a_quote_out_of_order_or_repeated_is_caught() -> None:
    printed = ["  lr 0.2   validation loss 3.7", "  lr 0.9   validation loss 10.8"]
    assert in_printed_order(printed, printed) is None
    assert in_printed_order(printed, [printed[0], printed[0]]) == printed[0]
    assert in_printed_order(printed, printed[::-1]) == printed[0]


def cut_off(printed: list[str], last: str) -> str | None:
    """The printed lines around a quote's last line when the quote stops mid-sentence, else None.

    A sentence goes on when the quoted line ends in a word or a comma and the next printed line
    starts, indented, with a lower-case word: "... the limit is only a" then "  guide. ...". A line
    ending in a colon goes on when the next printed line is indented deeper: what it announces.
    """
    stripped = [line.rstrip() for line in printed]
    index = find(stripped, last)
    following = stripped[index + 1] if index + 1 < len(stripped) else ""
    if re.search(r"[A-Za-z,]$", last.rstrip()) and re.match(r"\s+[a-z]", following):
        return f"{last.rstrip()}\n{following}"
    indent = len(last) - len(last.lstrip())
    if last.rstrip().endswith(":") and following.strip() and len(following) - len(following.lstrip()) > indent:
        return f"{last.rstrip()}\n{following}"
    return None


def test_a_quote_cut_off_mid_sentence_is_caught() -> None:
    printed = ["2/λmax is 0.994 for the whole set, so with mini-batches the limit is only a", "  guide. lr 0.05 stays"]
    assert cut_off(printed, printed[0]) == "\n".join(printed)
    table = ["  start -10: w -10.00 -> -3.17", "             cost 147 -> 0.611", "  start -15: w -15.00 -> -3.30"]
    assert cut_off(table, table[1]) is None
    sentence = ["the true plane says 23.00.", "  the next line"]
    assert cut_off(sentence, sentence[0]) is None
    announced = ["  nn.MSELoss() returns 6.0401 too, and warns:", "    UserWarning: Using a target size"]
    assert cut_off(announced, announced[0]) == "\n".join(announced)
    assert cut_off(["a list:", "the next section"], "a list:") is None


@pytest.mark.parametrize("heading", list(lesson_sections()))
def test_numbers_in_the_text_are_printed_by_the_lesson(heading: str, deeper_output: str) -> None:
    printed = set(NUMBER.findall(deeper_output))
    quoted = NUMBER.findall(prose(lesson_sections()[heading]))
    missing = [number for number in quoted if not any(matches(number, one) for one in printed)]
    assert not missing, f"README section '{heading}' quotes numbers the lesson does not print: {missing}"


DETAILS = re.compile(r"<details>\n<summary>(.*?)</summary>\n(.*?)</details>", re.DOTALL)
PATH_WORDS = 2000  # sections 1 to 7 outside their folded parts, code and output included: a week-2 reading


def path_words(sections: list[str]) -> int:
    """The words of these sections outside their <details> parts, code and output blocks counted, image tags not."""
    kept = [DETAILS.sub("", text) for text in sections]
    return sum(len(line.split()) for text in kept for line in text.splitlines() if not line.startswith("<img"))


def test_the_required_path_reads_in_one_sitting() -> None:
    words = path_words(list(lesson_sections().values())[:7])
    assert words <= PATH_WORDS, (
        f"sections 1 to 7 hold {words} words outside their <details> parts; at most {PATH_WORDS}"
    )


def test_the_word_count_counts_code_and_skips_folds_and_images() -> None:
    text = 'one two\n```python\nx = 1\n```\n<img src="a.png" width="9" alt="many words here">\n'
    folded = "<details>\n<summary>Going deeper: x</summary>\nhidden words\n</details>\n"
    assert path_words([text + folded]) == 7  # one two, the two fences, x = 1


BANNED_ON_THE_PATH = ("λmin", "Hessian", "eigen", "direction", "linear algebra")


def test_the_page_outside_its_folds_tells_no_eigen_story() -> None:
    # The cost's curvature in one sentence (λmax) is on the path; its directions and eigenvalues are folded.
    unfolded = DETAILS.sub("", README)
    for word in BANNED_ON_THE_PATH:
        assert word not in unfolded, f"README.md says {word!r} outside a <details> part"


def test_the_custom_module_is_shown_as_lesson_py_has_it() -> None:
    import inspect

    import lesson

    source = inspect.getsource(lesson.LinearRegression)
    section = lesson_sections()["1. Prediction: y = w·x + b (`prediction`)"]
    blocks = [block for language, block in FENCE.findall(section) if language == "python"]
    assert source in blocks, f"README section 1 should show the whole class, as lesson.py has it:\n{source}"


def test_each_folded_part_says_what_it_shows() -> None:
    folded = [summary for text in list(lesson_sections().values())[:7] for summary, _ in DETAILS.findall(text)]
    assert len(folded) >= 6, f"expected a folded going-deeper part in most sections, found {folded}"
    for summary in folded:
        assert summary.startswith("Going deeper: ") and len(summary.split()) >= 4, summary


def test_each_heading_names_its_section() -> None:
    import lesson

    names = [re.search(r"\(`(\w+)`\)$", heading) for heading in lesson_sections()]
    assert [name and name.group(1) for name in names] == list(lesson.SECTIONS), list(lesson_sections())


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


def test_ci_runs_the_readme_test_commands() -> None:
    first_block = FENCE.search(README).group(2).splitlines()
    test_command = first_block[1].strip()
    assert test_command == "python -m pytest", first_block
    assert "`python -m pytest tests`" in README, "the README gives the maintainers' command"
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    commands = [line.strip() for line in ci if line.strip() and not line.startswith("#")]
    assert commands[-2:] == [test_command, "python -m pytest tests"], commands


def test_the_sources_are_introduced_before_the_lesson_names_them() -> None:
    import lesson

    before = " ".join(README[: README.index("## 1. Prediction")].split())
    for name in ("*The article*", "*The labs*", "*the lab's lr 0.1*"):
        assert name in before, f"README.md names {name} before section 1 only if it says what it is"
    docstring = lesson.__doc__ or ""
    assert '"The article"' in docstring and '"The labs"' in docstring and "the lab's lr 0.1" in docstring
