"""An election file as an authority's editor saves it: encodings and TOML slips get a refusal that says the fix."""
from __future__ import annotations

import pytest

from kiosk.core.election import ConfigRefused, config_from_toml

TEXT = """\
id = "majles-1405"
name = "انتخابات مجلس"
date = "1405/03/01"
constituency = "تهران"

[[branches]]
code = "1001"
name = "دبستان فردوسی"
"""


def _refusal(data: bytes, name: str = "election.toml") -> str:
    with pytest.raises(ConfigRefused) as refused:
        config_from_toml(data, name)
    return str(refused.value)


def test_a_utf8_file_with_or_without_a_bom_is_read() -> None:
    """Windows Notepad's "UTF-8 with BOM" is still UTF-8: accepted, and the first key is not lost to it."""
    plain = config_from_toml(TEXT.encode())
    assert config_from_toml(b"\xef\xbb\xbf" + TEXT.encode()) == plain
    assert (plain.id, str(plain.day), plain.name) == ("majles-1405", "1405/03/01", "انتخابات مجلس")


@pytest.mark.parametrize("codec, bom, named", [
    ("utf-16", b"", "UTF-16"),             # Python writes a BOM for this one
    ("utf-16-le", b"\xff\xfe", "UTF-16"),
    ("utf-16-be", b"\xfe\xff", "UTF-16"),
    ("utf-16-le", b"", "UTF-16LE"),
    ("utf-16-be", b"", "UTF-16BE"),
])
def test_a_utf16_file_is_refused_with_the_command_that_converts_it(codec: str, bom: bytes, named: str) -> None:
    problem = _refusal(bom + TEXT.encode(codec), "my election.toml")
    assert problem.startswith(f"the file is {named} ")
    assert problem.endswith(f"convert it: iconv -f {named} -t UTF-8 'my election.toml' > 'my election.toml.utf8' "
                            "&& mv 'my election.toml.utf8' 'my election.toml'")


def test_a_windows_1256_file_is_refused_as_such_with_the_line() -> None:
    # Arabic Windows has no Persian yeh or keheh: such a file carries the Arabic forms.
    data = TEXT.replace("ی", "ي").encode("cp1256")
    assert _refusal(data) == ("line 2 is not UTF-8: the file looks like Windows-1256 (Arabic Windows); convert it: "
                              "iconv -f WINDOWS-1256 -t UTF-8 election.toml > election.toml.utf8 "
                              "&& mv election.toml.utf8 election.toml")


def test_other_bytes_that_are_not_utf8_name_the_line_and_the_byte() -> None:
    data = TEXT.encode().replace("تهران".encode(), "Zürich".encode("latin-1"))
    assert _refusal(data) == "line 4 is not UTF-8 (byte 0xFC); save the file as UTF-8"


@pytest.mark.parametrize("line, problem", [
    ('date = 1405/03/01', 'line 3: not valid TOML: Expected newline or end of document after a statement; '
                          'text needs quotes: date = "1405/03/01"'),
    ('date = 2026/05/22  # Gregorian', 'line 3: not valid TOML: Expected newline or end of document after a '
                                       'statement; text needs quotes: date = "1405/03/01"'),
    ('date = "1405/03/01', "line 3: not valid TOML: Illegal character '\\n'; a quote is not closed on that line"),
    ('date "1405/03/01"', "line 3: not valid TOML: Expected '=' after a key in a key/value pair"),
])
def test_a_toml_slip_is_one_line_with_its_line_number(line: str, problem: str) -> None:
    assert _refusal(TEXT.replace('date = "1405/03/01"', line).encode()) == problem


def test_unquoted_text_is_told_to_take_quotes() -> None:
    problem = _refusal(TEXT.replace('"انتخابات مجلس"', "انتخابات مجلس").encode())
    assert problem == 'line 2: not valid TOML: Invalid value; text needs quotes: name = "انتخابات مجلس"'


def test_a_file_cut_short_names_the_end() -> None:
    assert _refusal(b'id = "x"\nname =') == "not valid TOML at the end of the file: Invalid value"
