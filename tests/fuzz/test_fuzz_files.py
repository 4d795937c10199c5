"""Fuzzing what comes before the schema: the bytes of a file, its YAML, its ``base``
chain, and the command line's options.

Families: any bytes (Hypothesis binary and text, and a shipped config cut or spliced at
any point), other encodings, nesting far beyond the bound, alias bombs, ``base`` files
in loops and in long chains, a file over the size bound, and option values of every
kind.  Each must give exit status 0 or 2, no exception, one message naming the file
(or the option), nothing written, in bounded time; the heavy families also in bounded
memory, measured in a child process.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_fuzz_configs import FUZZ, SECONDS_PER_CASE, assert_one_clean_message, invoke

from sim.config.documents import MAX_BASES, MAX_DEPTH, MAX_FILE_BYTES, MAX_NODES

REPO = Path(__file__).resolve().parents[2]
CONFIGS = REPO / "configs"
SHIPPED_TEXT = {p.stem: p.read_text() for p in sorted(CONFIGS.glob("*.yaml"))}
COMMON = CONFIGS / "common" / "demand.yaml"


def _validate_bytes(content: bytes, command: str = "validate") -> tuple[int, str, Path]:
    """``station-sim validate`` of a file holding ``content``: status, stderr, path."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "input.yaml"
        path.write_bytes(content)
        code, _, stderr, seconds = invoke([command, str(path)])
        assert sorted(p.name for p in Path(folder).iterdir()) == ["input.yaml"]
    assert seconds < SECONDS_PER_CASE
    assert code in (0, 2), stderr
    if code == 2:
        assert_one_clean_message(stderr, path)
    return code, stderr, path


@settings(FUZZ, max_examples=150)
@given(st.binary(max_size=400) | st.text(max_size=400).map(lambda t: t.encode("utf-8")))
def test_any_bytes_are_refused_in_one_message(content):
    code, _, _ = _validate_bytes(content)
    assert code == 2  # no scenario is that short


@settings(FUZZ, max_examples=150)
@given(
    name=st.sampled_from(sorted(SHIPPED_TEXT)),
    cut=st.floats(0, 1),
    splice=st.sampled_from(["", ":", "- ", "{", "[", "&a ", "*a", "\t", "'", "\x00", "é"]),
    encoding=st.sampled_from(["utf-8", "latin-1", "utf-16"]),
)
def test_a_config_cut_spliced_or_reencoded_is_refused_or_valid(name, cut, splice, encoding):
    text = SHIPPED_TEXT[name].replace(
        "base: common/demand.yaml", f"base: {COMMON}"
    )  # the file is read from elsewhere
    at = int(len(text) * cut)
    broken = text[:at] + splice + text[at:]
    try:
        content = broken.encode(encoding)
    except UnicodeEncodeError:
        content = broken.encode("utf-8")
    _validate_bytes(content)


def test_deep_nesting_and_alias_bombs_are_refused_before_they_are_built():
    deep_list = "x: " + "[" * (MAX_DEPTH + 10) + "]" * (MAX_DEPTH + 10) + "\n"
    deep_map = "".join("  " * i + f"k{i}:\n" for i in range(MAX_DEPTH + 10)) + "  " * 50 + "v: 1\n"
    very_deep = "x: " + "[" * 5000 + "]" * 5000 + "\n"
    bomb = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 9):
        previous = f"*a{level - 1}"
        bomb.append(f"a{level}: &a{level} [{', '.join([previous] * 10)}]")
    for text, expected in (
        (deep_list, f"nested more than {MAX_DEPTH} levels deep"),
        (deep_map, f"nested more than {MAX_DEPTH} levels deep"),
        (very_deep, "nested more than"),
        ("\n".join(bomb) + "\n", f"expands to more than {MAX_NODES:,} values"),
    ):
        code, stderr, _ = _validate_bytes(text.encode())
        assert code == 2 and expected in stderr, stderr


def test_a_file_over_the_size_bound_is_refused_unread(tmp_path):
    path = tmp_path / "huge.yaml"
    with path.open("w") as handle:
        handle.write("name: huge\ndescription: >\n")
        line = "  " + "x" * 78 + "\n"
        for _ in range(MAX_FILE_BYTES // len(line) + 10):
            handle.write(line)
    code, _, stderr, seconds = invoke(["validate", str(path)])
    assert code == 2 and f"may be at most {MAX_FILE_BYTES:,} bytes" in stderr
    assert seconds < SECONDS_PER_CASE


def test_base_files_in_a_loop_or_a_long_chain_are_refused(tmp_path):
    (tmp_path / "a.yaml").write_text("base: b.yaml\nname: a\n")
    (tmp_path / "b.yaml").write_text("base: a.yaml\nname: b\n")
    code, _, stderr, _ = invoke(["validate", str(tmp_path / "a.yaml")])
    assert code == 2 and "include each other in a loop" in stderr
    for i in range(2000):
        (tmp_path / f"c{i}.yaml").write_text(f"base: c{i + 1}.yaml\n")
    code, _, stderr, _ = invoke(["validate", str(tmp_path / "c0.yaml")])
    assert code == 2 and f"more than {MAX_BASES} 'base' files in a chain" in stderr


# What the command line accepts, and values a user might type for it.
OPTION_VALUES = st.sampled_from(
    ["0", "-1", "1", "2", "abc", "", "1e3", "9" * 5000, "nan", "inf", "2.5", "10000000", "tcp://"]
)
SET_VALUES = st.sampled_from(
    [
        "simulation.seed=7",
        "simulation.seed=-1",
        "simulation.seed=" + "9" * 5000,
        "nonsense",
        "=3",
        "simulation.run_days=1e9",
        "simulation.run_days=[" * 200,
        "populations.all.urgent_share=0.5",
        "staffing.workers[9].count=2",
        "staffing.workers[0].count=0",
        "measures.thresholds_hours=[24, 24]",
        "populations.victim.arrivals.per_year=.inf",
        "populations.victim.interview={dist: lognormal, mean: 1, sd: 1e300}",
        "simulation.seed=&a [*a]",
    ]
)


@settings(FUZZ, max_examples=150)
@given(
    command=st.sampled_from(["run", "warmup", "validate"]),
    option=st.sampled_from(["--replications", "--seed", "--jobs", "--weeks", "--scheduler"]),
    value=OPTION_VALUES,
    overrides=st.lists(SET_VALUES, max_size=2),
)
def test_bad_options_get_one_message_and_write_nothing(command, option, value, overrides):
    config = str(CONFIGS / "france_office_hours.yaml")
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "out"
        argv = [command, config]
        if command != "validate":  # keep the runs that the options allow short
            argv += ["--set", "simulation={warm_up_days: 0, run_days: 7, drain_days: 0}"]
        for item in overrides:
            argv += ["--set", item]
        if command == "run":
            argv += ["--out", str(out), "--no-records"]
        # argparse refuses an option a command does not take, or a value of the wrong
        # type, with its own usage message and status 2 (SystemExit).
        argv += [option, value]
        try:
            code, _, stderr, seconds = invoke(argv)
        except SystemExit as stop:
            assert stop.code == 2
            return
        assert seconds < SECONDS_PER_CASE
        assert code in (0, 2), (argv, stderr)
        assert "Traceback" not in stderr
        if code == 2:
            assert stderr.count("station-sim: error:") == 1, stderr
            assert not out.exists()


HEAVY = r"""
import json, resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, (__LIMIT__, __LIMIT__))
from sim.commands.cli import main
start = time.perf_counter()
code = main(sys.argv[1:])
print(json.dumps({"code": code, "seconds": time.perf_counter() - start,
                  "rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


@pytest.mark.parametrize("family", ["alias bomb", "deep nesting", "huge grid", "huge design"])
def test_the_heavy_families_stay_within_time_and_memory(family, tmp_path):
    """In a child process whose address space is capped at 1.5 GiB: a bound that a
    MemoryError or a swap storm would break."""
    if family == "alias bomb":
        lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
        lines += [f"a{k}: &a{k} [{', '.join([f'*a{k - 1}'] * 10)}]" for k in range(1, 12)]
        text = "\n".join(lines) + "\n"
    elif family == "deep nesting":
        text = "x: " + "[" * 100_000 + "]" * 100_000 + "\n"
    else:
        hundred = [k / 100 for k in range(100)]
        factors = [
            {"name": "seed", "path": "simulation.seed", "values": list(range(100))},
            {"name": "posts", "path": "staffing.workers[0].count", "values": list(range(1, 101))},
            {"name": "u", "path": "populations.victim.urgent_share", "values": hundred},
            {"name": "v", "path": "populations.perpetrator.urgent_share", "values": hundred},
        ]  # 10^8 points
        design = {"kind": "grid", "factors": factors}
        if family == "huge design":
            design = {
                "kind": "latin_hypercube",
                "points": 10**8,
                "factors": [{"name": "x", "path": "simulation.seed", "range": [0, 10]}],
            }
        text = json.dumps(
            {
                "name": "huge",
                "configs": str(CONFIGS),
                "scenarios": ["france_office_hours"],
                "design": design,
                "replications": 1,
                "seed": 1,
            }
        )
    path = tmp_path / "input.yaml"
    path.write_text(text)
    limit = 3 * 2**29
    result = subprocess.run(
        [sys.executable, "-c", HEAVY.replace("__LIMIT__", str(limit)), "validate", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert "Traceback" not in result.stderr, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["code"] == 2, result.stderr
    assert report["seconds"] < SECONDS_PER_CASE
    assert result.stderr.count("station-sim: error:") == 1, result.stderr
    assert list(tmp_path.iterdir()) == [path]
