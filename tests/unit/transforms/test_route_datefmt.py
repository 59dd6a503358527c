"""The SimpleDateFormat patterns shared by TimestampConverter and TimestampRouter."""

import dataclasses

import pytest

from kconnect.transforms._datefmt import PatternError, compile_pattern

# 2024-03-05T07:08:09.045Z, a Tuesday, the 65th day of a leap year.
INSTANT = 1_709_622_489_045
MIDNIGHT = 1_709_596_800_000


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        ("yyyy-MM-dd'T'HH:mm:ss.SSSXXX", "2024-03-05T07:08:09.045Z"),
        ("yyyyMMdd", "20240305"),
        ("yy", "24"),
        ("y", "2024"),
        ("yyyyy", "02024"),
        ("M MM MMM MMMM", "3 03 Mar March"),
        ("LLL", "Mar"),
        ("d dd D DDD F", "5 05 65 065 1"),
        ("E EEE EEEE u", "Tue Tue Tuesday 2"),
        ("H HH k K h hh a", "7 07 7 7 7 07 AM"),
        ("m mm s ss", "8 08 9 09"),
        ("S SSS SSSS", "45 045 0045"),
        ("z zzzz Z X XX XXX", "UTC Coordinated Universal Time +0000 Z Z Z"),
        ("G", "AD"),
        ("'at' HH 'o''clock'", "at 07 o'clock"),
        ("''yy''", "'24'"),
        ("yyyy/MM/dd - HH.mm", "2024/03/05 - 07.08"),
    ],
)
def test_format(pattern: str, text: str) -> None:
    assert compile_pattern(pattern).format(INSTANT) == text


def test_format_hours_at_midnight_and_in_the_afternoon() -> None:
    fmt = compile_pattern("H k K h a")
    assert fmt.format(MIDNIGHT) == "0 24 0 12 AM"
    assert fmt.format(MIDNIGHT + 13 * 3_600_000) == "13 13 1 1 PM"


def test_format_before_the_epoch() -> None:
    assert compile_pattern("yyyy-MM-dd HH:mm:ss.SSS").format(-1) == "1969-12-31 23:59:59.999"


def test_format_outside_the_representable_years() -> None:
    with pytest.raises(PatternError, match="outside the years 1 to 9999"):
        compile_pattern("yyyy").format(2**62)


@pytest.mark.parametrize(
    ("pattern", "message"),
    [
        ("bad-format", "Illegal pattern character 'b'"),
        ("yyyy-MM-dd'T", "Unterminated quote"),
        ("YYYY-MM-dd", "pattern letter 'Y' in 'YYYY-MM-dd' is not supported"),
        ("yyyy-ww", "pattern letter 'w'"),
        ("W", "pattern letter 'W'"),
        ("XXXX", "invalid ISO 8601 zone 'X' of length 4"),
    ],
)
def test_patterns_refused(pattern: str, message: str) -> None:
    with pytest.raises(PatternError, match=message):
        compile_pattern(pattern)


@pytest.mark.parametrize(
    ("pattern", "text", "millis"),
    [
        ("yyyy-MM-dd'T'HH:mm:ss.SSSXXX", "2024-03-05T07:08:09.045Z", INSTANT),
        ("yyyy-MM-dd'T'HH:mm:ss.SSSXXX", "2024-03-05T08:08:09.045+01:00", INSTANT),
        ("yyyy-MM-dd'T'HH:mm:ss.SSSX", "2024-03-05T02:08:09.045-05", INSTANT),
        ("yyyy-MM-dd'T'HH:mm:ss.SSSXX", "2024-03-05T02:08:09.045-0500", INSTANT),
        ("yyyy-MM-dd HH:mm:ss.SSS Z", "2024-03-05 08:08:09.045 +0100", INSTANT),
        ("yyyy-MM-dd HH:mm:ss.SSS z", "2024-03-05 08:08:09.045 GMT+01:00", INSTANT),
        ("yyyy-MM-dd HH:mm:ss.SSS z", "2024-03-05 07:08:09.045 utc", INSTANT),
        # Abutting numbers take their pattern width.
        ("yyyyMMddHHmmssSSS", "20240305070809045", INSTANT),
        # Other numbers take every digit there is, and leading blanks are skipped.
        ("yyyy-M-d H:m:s.S", "2024-3- 5 7:8:9.45", INSTANT),
        # Month and day names in any case, short or full; the day name decides nothing.
        ("EEE, dd MMM yyyy", "tue, 05 MAR 2024", MIDNIGHT),
        ("EEEE, dd MMMM yyyy", "Sunday, 05 March 2024", MIDNIGHT),
        ("D yyyy", "65 2024", MIDNIGHT),
        # Fields the pattern doesn't have are 1970-01-01T00:00:00.000Z.
        ("HH:mm", "07:08", (7 * 60 + 8) * 60_000),
        ("hh:mm a", "07:08 pm", (19 * 60 + 8) * 60_000),
        ("hh:mm a", "12:08 AM", 8 * 60_000),
        ("kk:mm", "24:08", 8 * 60_000),
        # Text after the pattern is ignored, as DateFormat.parse(String) ignores it.
        ("yyyy-MM-dd", "2024-03-05T23:59:59", MIDNIGHT),
        # Out-of-range values roll over.
        ("yyyy-MM-dd", "2024-02-34", MIDNIGHT),
        ("yyyy-MM-dd", "2023-15-05", MIDNIGHT),
        ("yyyy-MM-dd HH:mm:ss.SSS", "2024-03-04 31:08:09.045", INSTANT),
        # 'S' counts milliseconds, so more digits mean more milliseconds.
        ("ss.S", "01.1234", 2_234),
    ],
)
def test_parse(pattern: str, text: str, millis: int) -> None:
    assert compile_pattern(pattern).parse(text) == millis


@pytest.mark.parametrize(
    ("text", "year"),
    [("46", 1946), ("99", 1999), ("00", 2000), ("45", 2045), ("2024", 2024), ("7", 7)],
)
def test_two_digit_years_fall_in_the_century_starting_80_years_back(text: str, year: int) -> None:
    fmt = dataclasses.replace(compile_pattern("yy"), century_start_year=1946)
    year_only = dataclasses.replace(compile_pattern("yyyy"), century_start_year=1946)
    assert fmt.parse(text) == year_only.parse(str(year).zfill(4))


@pytest.mark.parametrize(
    ("pattern", "text"),
    [
        ("yyyy-MM-dd", "2024/03/05"),
        ("yyyy-MM-dd", "yesterday"),
        ("yyyy-MM-dd", ""),
        ("dd MMM yyyy", "05 Mrz 2024"),
        ("HH:mm Z", "07:08 +1"),
        ("HH:mm XXX", "07:08 +0100"),
        ("HH:mm z", "07:08 CET"),
    ],
)
def test_parse_mismatch(pattern: str, text: str) -> None:
    with pytest.raises(PatternError, match=r"does not match pattern"):
        compile_pattern(pattern).parse(text)
