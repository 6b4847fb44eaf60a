"""parse_size: the sizes a user may write, the ones refused with the table of accepted forms, and exactness."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest
from ansible.module_utils.common.text.formatters import human_to_bytes  # type: ignore[import-untyped]
from ansible_collections.srvlab.rds.plugins.module_utils.rds_errors import InvalidValueError
from ansible_collections.srvlab.rds.plugins.module_utils.rds_rules import MAX_DISK_SIZE, MIN_DISK_SIZE, size_problem
from ansible_collections.srvlab.rds.plugins.module_utils.rds_sizes import ACCEPTED_SIZES, format_size, parse_size
from hypothesis import example, given, settings
from hypothesis import strategies as st

KIB, MIB, GIB, TIB, PIB = (1024**power for power in range(1, 6))
SIZES = st.integers(min_value=MIN_DISK_SIZE, max_value=MAX_DISK_SIZE)
UNIT_FACTORS = {"K": KIB, "M": MIB, "G": GIB, "T": TIB, "P": PIB}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (GIB, GIB),
        ("1073741824", GIB),
        (" 1073741824 ", GIB),
        (1610612736.0, 3 * GIB // 2),
        ("1610612736.0", 3 * GIB // 2),
        ("1073741824B", GIB),
        ("1073741825 bytes", GIB + 1),
        ("1G", GIB),
        ("10 G", 10 * GIB),
        ("1Gi", GIB),
        ("1GiB", GIB),
        ("1 GiB", GIB),
        ("300Mi", MIN_DISK_SIZE),
        ("307200K", MIN_DISK_SIZE),
        ("1.5G", 3 * GIB // 2),
        (".5Ti", TIB // 2),
        ("3T", 3 * TIB),
        ("2Pi", 2 * PIB),
        ("1048576Ki", GIB),
    ],
)
def test_accepted_forms(value: object, expected: int) -> None:
    assert parse_size(value) == expected


@pytest.mark.parametrize("text", ["307200K", "300M", "1G", "2T", "1P", "1.5G", "512M", "2048M"])
def test_the_letters_mean_what_human_to_bytes_says(text: str) -> None:
    """K, M, G, T and P are Ansible's binary units; the suffixes Kubernetes and IEC spell the same."""
    assert parse_size(text) == human_to_bytes(text)
    number, letter = text[:-1], text[-1]
    assert parse_size(number + letter + "i") == parse_size(number + letter + "iB") == human_to_bytes(text)


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("10GB", "uses GB, which is 1000^3 bytes to most tools and 1024^3 to Ansible; write Gi or GiB"),
        ("10 GB", "uses GB"),
        ("10gb", "uses gb"),
        ("10MB", "uses MB, which is 1000^2"),
        ("10Gb", "counts bits (Gb)"),
        ("10 bits", "counts bits"),
        ("10g", "units are case-sensitive"),
        ("10k", "units are case-sensitive (Kubernetes reads k as 1000"),
        ("10gi", "units are case-sensitive"),
        ("10GIB", "units are case-sensitive"),
        ("1E", "unknown unit E"),
        ("10 gigabytes", "unknown unit gigabytes"),
        ("1.3K", "is not a whole number of bytes"),
        ("1610612736.5", "is not a whole number of bytes"),
        (1.5, "is not a whole number of bytes"),
        (1610612736.25, "is not a whole number of bytes"),
        (math.nan, "is not a finite number"),
        (math.inf, "is not a finite number"),
        (-math.inf, "is not a finite number"),
        (True, "is a boolean, not a size"),
        (None, "is a null, not a size"),
        ([GIB], "is a list, not a size"),
        ({"G": 1}, "is a dictionary, not a size"),
        (-5, "is negative"),
        ("-1G", "is negative"),
        (-1073741824.0, "is negative"),
        ("", "is not a size"),
        ("G", "is not a size"),
        ("1e9", "is not a size"),
        ("0x10", "is not a size"),
        ("10  G", "is not a size"),
        ("1 000", "is not a size"),
        ("1" * 41, "is not a size"),
        ("10\x00G", "is not a size"),
        ("\uff11\uff10G", "is not a size"),  # full-width digits
    ],
)
def test_refusals_name_the_value_and_show_the_accepted_forms(value: object, reason: str) -> None:
    with pytest.raises(InvalidValueError) as refused:
        parse_size(value, "size of disk 'pvc-a'")
    message = str(refused.value)
    assert message.startswith("The size of disk 'pvc-a' %s " % repr(value)[:57])
    assert reason in message
    assert message.endswith(ACCEPTED_SIZES)


@pytest.mark.parametrize(
    ("value", "size"),
    [
        ("0.5K", 512),
        (0, 0),
        ("299Mi", 299 * MIB),
        (MIN_DISK_SIZE - 1, MIN_DISK_SIZE - 1),
        (10**30, 10**30),
        ("9000Pi", 9000 * PIB),
    ],
)
def test_sizes_no_disk_can_have_are_refused_with_the_rule(value: object, size: int) -> None:
    with pytest.raises(InvalidValueError) as refused:
        parse_size(value, "size")
    problem = size_problem(size)
    assert problem is not None
    assert str(refused.value) == "The size %r is %s: %s." % (value, format_size(size), problem)


def test_the_minimum_holds_any_filesystem_the_driver_formats_and_the_maximum_any_file() -> None:
    assert size_problem(MIN_DISK_SIZE) is None and size_problem(MIN_DISK_SIZE - 1) is not None
    assert size_problem(MAX_DISK_SIZE) is None and size_problem(MAX_DISK_SIZE + 1) is not None
    assert "300 MiB" in str(size_problem(0))


@settings(max_examples=500, derandomize=True, database=None)
@given(SIZES)
def test_format_size_reads_back_to_the_same_bytes(size: int) -> None:
    assert parse_size(format_size(size)) == size


@settings(max_examples=500, derandomize=True, database=None)
@given(SIZES, st.sampled_from(["", "B", " bytes"]))
def test_plain_bytes_read_back_exactly(size: int, unit: str) -> None:
    assert parse_size("%d%s" % (size, unit)) == parse_size(size) == size


@settings(max_examples=500, derandomize=True, database=None)
@given(st.integers(min_value=1, max_value=10**6), st.integers(min_value=0, max_value=999), st.sampled_from("KMGTP"))
@example(1, 5, "K")
def test_a_fraction_is_exact_or_refused_never_rounded(whole: int, thousandths: int, letter: str) -> None:
    text = "%d.%03d%s" % (whole, thousandths, letter)
    exact = Decimal("%d.%03d" % (whole, thousandths)) * UNIT_FACTORS[letter]
    if exact != exact.to_integral_value() or size_problem(int(exact)) is not None:
        with pytest.raises(InvalidValueError):
            parse_size(text)
    else:
        assert parse_size(text) == int(exact)
        assert parse_size(text.replace(letter, letter + "i")) == int(exact)


@settings(max_examples=500, derandomize=True, database=None)
@given(st.floats(allow_nan=True, allow_infinity=True))
def test_a_float_is_taken_only_when_it_is_a_whole_number_of_bytes(value: float) -> None:
    acceptable = math.isfinite(value) and value.is_integer() and size_problem(int(value)) is None
    if acceptable:
        assert parse_size(value) == int(value)
    else:
        with pytest.raises(InvalidValueError):
            parse_size(value)


@settings(max_examples=1000, derandomize=True, database=None)
@given(st.one_of(st.text(max_size=50), st.integers(), st.floats(), st.booleans(), st.none(), st.lists(st.integers())))
def test_any_value_gives_bytes_or_a_refusal(value: object) -> None:
    try:
        size = parse_size(value)
    except InvalidValueError as refused:
        assert str(refused).startswith("The size ")
    else:
        assert size_problem(size) is None
