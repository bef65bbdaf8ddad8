"""Campaign configuration built in Python: the same checks as a campaign file."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from highfive.generators import ConfigError
from highfive.harness import CampaignConfig, ExecutionConfig


def test_an_execution_table_given_as_a_dict_is_read_and_checked() -> None:
    # A dict stayed a dict, and run_campaign failed on it with an AttributeError.
    config = CampaignConfig(execution={"workers": 0, "retries": 2})
    assert config.execution == ExecutionConfig(workers=0, retries=2)
    with pytest.raises(ConfigError, match=r"unknown key 'execution.wrkers'; allowed: "):
        CampaignConfig(execution={"wrkers": 0})
    with pytest.raises(ConfigError, match=r"execution: 3 must be a table"):
        CampaignConfig(execution=3)  # type: ignore[arg-type]


def test_a_batch_is_bounded_by_what_one_worker_holds() -> None:
    # 200 million cases in one batch tried to allocate 53.6 GiB and left a run behind.
    with pytest.raises(ConfigError, match=r"batch_size: 2,000,000 is more than 1,000,000"):
        CampaignConfig(cases=2_000_000, batch_size=2_000_000)
    few = CampaignConfig(cases=100, batch_size=10**9)  # a batch is at most the cases
    assert few.batch_range(0) == (0, 100)


def test_space_restrictions_are_stored_as_the_values_they_select() -> None:
    # repetitions = "2" selected 2 but campaign.json kept the string, so the same
    # campaign written with 2 had another identity and a resume was refused.
    as_text = CampaignConfig(space={"repetitions": "2", "peak_accel": [20, "30"]})
    as_numbers = CampaignConfig(space={"repetitions": 2, "peak_accel": [20.0, 30.0]})
    assert as_text.space == {"repetitions": 2, "peak_accel": [20.0, 30.0]}
    assert as_text.identity() == as_numbers.identity()
    assert as_text.parameter_space() == as_numbers.parameter_space()


def test_an_unknown_dimension_in_the_space_table_reads_as_one_sentence() -> None:
    # "space.unknown parameter 'ways'" read as if 'unknown parameter' were a field.
    with pytest.raises(ConfigError, match=r"^space: unknown parameter 'ways'; known: motion, "):
        CampaignConfig(space={"ways": [1, 1]})
    with pytest.raises(ConfigError, match=r"^space\.repetitions: 9 is out of range"):
        CampaignConfig(space={"repetitions": 9})


def test_a_name_says_it_starts_with_a_letter_or_digit() -> None:
    # "." was refused with a list of allowed characters that holds ".".
    with pytest.raises(
        ConfigError, match=r"name: '\.' must be .*, starting with a letter or digit"
    ):
        CampaignConfig(name=".")


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        pytest.param(  # threading's and select's timeouts overflow beyond about 9.2e9 s
            {"counter_timeout_s": 1e10},
            r"^counter_timeout_s: 10000000000.0 must be a number of seconds > 0 and at most "
            r"86,400 \(a day\)$",
            id="counter-timeout-1e10",
        ),
        pytest.param(
            {"counter_timeout_s": 86_400.5},
            r"^counter_timeout_s: 86400.5 must be a number of seconds > 0 and at most 86,400",
            id="counter-timeout-just-over-a-day",
        ),
        pytest.param(
            {"counter_timeout_s": 0},
            r"^counter_timeout_s: 0 must be a number of seconds > 0 and at most 86,400",
            id="counter-timeout-zero",
        ),
        pytest.param(
            {"out": 5}, r"^out: 5 must be a folder path \(a string\)$", id="out-an-integer"
        ),
        pytest.param(
            {"out": ["runs"]},
            r"^out: \['runs'\] must be a folder path \(a string\)$",
            id="out-a-list",
        ),
        pytest.param(  # '$' also matches before a final newline
            {"name": "abc\n"}, r"^name: 'abc\\n' must be 1-100 ASCII letters", id="name-newline"
        ),
        pytest.param(
            {"models": [{"counter": "float", "id": "f\n"}]},
            r"^models\[0\]\.id: 'f\\n' must be 1-100 ASCII letters",
            id="counter-id-newline",
        ),
        pytest.param(  # ran under the id of its source, with "id": "" recorded
            {"models": [{"counter": "float", "id": ""}]},
            r"^models\[0\]\.id: '' must be 1-100 ASCII letters",
            id="counter-id-empty",
        ),
        pytest.param(
            {"execution": {"scheduler": "tcp://10.0.0.5:8786\n"}},
            r"^execution\.scheduler: 'tcp://10\.0\.0\.5:8786\\n' is not a scheduler address",
            id="scheduler-newline",
        ),
        pytest.param(
            {"execution": {"dashboard": "127.0.0.1:0\n"}},
            r"^execution\.dashboard: '127\.0\.0\.1:0\\n' must be HOST:PORT",
            id="dashboard-newline",
        ),
    ],
)
def test_bad_values_are_refused_in_one_line(changes: dict[str, object], match: str) -> None:
    with pytest.raises(ConfigError, match=match) as info:
        CampaignConfig(**changes)  # type: ignore[arg-type]
    assert "\n" not in str(info.value)


def test_the_longest_counter_timeout_is_accepted() -> None:
    assert CampaignConfig(counter_timeout_s=86_400).counter_timeout_s == 86_400


def test_out_given_as_a_path_object_is_kept_as_text() -> None:
    assert CampaignConfig(out=Path("runs")).out == "runs"


def test_threads_per_worker_are_bounded_by_the_cores_before_anything_starts(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # 100,000 ONNX Runtime threads grew the client by 60 MB/s until it was killed.
    from highfive.harness import run_campaign

    monkeypatch.setattr("os.cpu_count", lambda: 2)
    config = CampaignConfig(
        cases=8,
        models=("float",),
        out=str(tmp_path / "runs"),
        execution=ExecutionConfig(workers=0, threads_per_worker=9),
    )
    with pytest.raises(
        ConfigError,
        match=r"^execution\.threads_per_worker: 9 ONNX Runtime threads per worker are more "
        r"than 4 per CPU core \(2 cores: at most 8\); use fewer",
    ):
        run_campaign(config)
    assert not (tmp_path / "runs").exists()
    # a cluster of one's own: its workers' cores are not this machine's
    external = replace(config.execution, scheduler="tcp://10.0.0.5:8786")
    from highfive.harness._cluster import check_workers

    check_workers(external)
    check_workers(replace(config.execution, threads_per_worker=8))


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ({"motion": "clap"}, {"motion": ["clap"]}),
        ({"peak_accel": 12}, {"peak_accel": [12, "12.0"]}),
        ({"repetitions": 2}, {"repetitions": [2, 2]}),
    ],
    ids=["one-choice", "one-point-range", "one-whole-number"],
)
def test_two_spellings_of_one_restriction_are_one_configuration(
    one: dict[str, object], other: dict[str, object]
) -> None:
    # motion = ["clap"] against "clap" was "another configuration" to a resume.
    a, b = CampaignConfig(space=one), CampaignConfig(space=other)
    assert a.space == b.space and a.identity() == b.identity()
    assert a.parameter_space() == b.parameter_space()
    old = {**b.identity(), "space": other}  # as a run made before recorded it
    assert CampaignConfig.spelled_identity(old) == a.identity()


def test_restrictions_that_select_more_keep_their_lists() -> None:
    config = CampaignConfig(space={"motion": ["clap", "wave"], "peak_accel": [12, 20]})
    assert config.space == {"motion": ["clap", "wave"], "peak_accel": [12.0, 20.0]}


@pytest.mark.parametrize("key", ["parent", "base"])
def test_a_campaign_file_cannot_set_internal_fields(tmp_path: Path, key: str) -> None:
    # parent was copied into campaign.json and base silently overwritten; the list of
    # allowed keys named both.
    path = tmp_path / "c.toml"
    path.write_text(f'name = "c"\n{key} = "/etc"\n')
    with pytest.raises(ConfigError, match=rf"^unknown key '{key}'; allowed: ") as err:
        CampaignConfig.from_toml(path)
    allowed = str(err.value).split("allowed: ", 1)[1].split(", ")
    assert "parent" not in allowed and "base" not in allowed and "name" in allowed


def test_a_stored_configuration_keeps_its_internal_fields(tmp_path: Path) -> None:
    stored = replace(CampaignConfig(), parent="runs/a", base=str(tmp_path)).to_dict()
    again = CampaignConfig.from_dict(stored)
    assert (again.parent, again.base) == ("runs/a", str(tmp_path))


def test_a_byte_order_mark_before_a_toml_file_is_skipped(tmp_path: Path) -> None:
    # Windows editors write one; every file gave "not valid TOML (Invalid statement
    # (at line 1, column 1))".
    from highfive.coverage import Binning, load_gate, load_settings
    from highfive.generators import default_space
    from highfive.harness import load_region

    def bom(name: str, text: str) -> Path:
        path = tmp_path / name
        path.write_bytes(b"\xef\xbb\xbf" + text.encode())
        return path

    assert CampaignConfig.from_toml(bom("c.toml", 'name = "bom"\n')).name == "bom"
    bins = bom("b.toml", "[bins.gap]\ncount = 2\n[statistics]\np_target = 0.02\n")
    assert load_settings(bins).p_target == 0.02
    assert Binning.from_toml(bins, default_space())["gap"].n_bins == 2
    gate = bom("g.toml", '[gate]\nbins = "b.toml"\n[[criteria]]\nkind = "coverage"\nmin = 0.5\n')
    assert load_gate(gate).bins == {"gap": {"count": 2}}
    assert load_region(bom("r.toml", 'motion = "clap"\n')) is not None


@pytest.mark.parametrize(
    ("sampler", "cases", "most", "instead"),
    [
        pytest.param(
            "sobol", 10**12, 2**30, "sampler 'random' or 'halton' or 'lhs', or ", id="sobol"
        ),
        pytest.param("halton", 10**15, 109**7, "sampler 'random' or 'lhs', or ", id="halton"),
        pytest.param("lhs", 2**53 + 1, 2**53, "sampler 'random', or ", id="lhs"),
        pytest.param("random", 2**63, 2**63 - 1, "", id="random"),
    ],
)
def test_cases_beyond_the_samplers_limit_are_refused(
    sampler: str, cases: int, most: int, instead: str
) -> None:
    # Sobol took 10**12 cases, then crashed from case 2**30 (ValueError, OverflowError).
    with pytest.raises(ConfigError) as caught:
        CampaignConfig(sampler=sampler, cases=cases)
    assert str(caught.value).startswith(f"cases: {cases:,} is more than sampler '{sampler}'")
    assert str(caught.value).endswith(f"; use {instead}at most {most:,} cases")
    assert CampaignConfig(sampler=sampler, cases=most).cases == most


def test_a_focus_box_edge_inside_a_discrete_value_is_refused() -> None:
    # repetitions = [0.1, 0.6] ran all its cases, then coverage refused to weight them
    # ("its sampling density per value is unknown"), the only way to read a focus run.
    with pytest.raises(
        ConfigError, match=r"^focus\[0\]\.repetitions: edge 0\.1 falls inside a value of this"
    ):
        CampaignConfig(sampler="focus", focus=({"repetitions": [0.1, 0.6]},), parent="p")
    ok = CampaignConfig(sampler="focus", focus=({"repetitions": [0.0, 0.5]},), parent="p")
    assert ok.focus == ({"repetitions": [0.0, 0.5]},)


def test_workers_compare_a_digest_of_the_code_that_computes_a_case(tmp_path: Path) -> None:
    # What a worker reports besides versions: the same for the same source whatever the
    # install's layout (editable: the repository's folders; a wheel: site-packages),
    # different after any change of one byte.
    import shutil

    import highfive.generators
    import highfive.harness
    from highfive.harness._cluster import code_digest, environment, source_digest

    here = {
        "generators": Path(highfive.generators.__path__[0]),
        "harness": Path(highfive.harness.__path__[0]),
    }
    copy = {name: tmp_path / "site" / "highfive" / name for name in here}
    for name, folder in here.items():
        shutil.copytree(folder, copy[name], ignore=shutil.ignore_patterns("__pycache__"))
    assert source_digest(copy) == source_digest(here) == code_digest()
    # Bytecode caches, folders that are no package and other files are no code of a case.
    (copy["harness"] / "__pycache__").mkdir(exist_ok=True)
    (copy["harness"] / "__pycache__" / "x.pyc").write_bytes(b"\0")
    (copy["harness"] / "scratch").mkdir()
    (copy["harness"] / "scratch" / "try.py").write_text("x = 1\n")
    (copy["harness"] / "notes.txt").write_text("x\n")
    assert source_digest(copy) == code_digest()
    oracle = copy["harness"] / "_oracle.py"
    oracle.write_text(oracle.read_text() + "# edited\n")
    assert source_digest(copy) != code_digest()
    moved = copy["harness"] / "counters" / "_oracle.py"  # same bytes, another module
    oracle.write_text(oracle.read_text().removesuffix("# edited\n"))
    oracle.rename(moved)
    assert source_digest(copy) != code_digest()
    assert environment()["highfive source"] == code_digest()
    assert code_digest.cache_info().misses == 1  # computed once per process


@pytest.mark.parametrize("made", ["2", 2.0, True, [2]])
def test_a_generators_version_that_is_not_a_whole_number_is_refused_as_recorded(
    made: object,
) -> None:
    # "2" (text) was compared with 2, and the refusal read "was made by generators
    # version 2 and this highfive makes version 2"; 2.0 passed as version 2.
    from highfive.generators import RunDirError, show

    record = {"identity": {"space": {}, "generators": made}}
    with pytest.raises(RunDirError) as exc:
        CampaignConfig.require_generators(record, "run directory 'r'", "cannot replay")
    assert str(exc.value) == (
        f"run directory 'r': campaign.json's identity.generators is {show(made)}, not a "
        "version number (a whole number; this highfive makes version 2); the record is "
        "damaged: run the campaign again"
    )


def test_a_recorded_generators_version_of_this_highfive_is_accepted() -> None:
    from highfive.generators import GENERATOR_VERSION

    record = {"identity": {"space": {}, "generators": GENERATOR_VERSION}}
    CampaignConfig.require_generators(record, "r", "cannot replay")  # no error


@pytest.mark.parametrize(
    ("text", "said"),
    [
        # tomllib names a line and column, not the key: "Cannot overwrite a value (at
        # line 2, column 9)" left the user to count lines.
        ('name = "a"\nname = "b"\n', "line 2, 'name = \"b\"': a key given a second value"),
        ("seed = 1\nseed.x = 2\n", "line 2, 'seed.x = 2': a key given a second value"),
        ('name = "x"\n[space]\n[space]\n', "line 3, '[space]': a table given twice"),
        ('name = "x"\ncases = [\n', "the end of the file: invalid value"),
        # lines as TOML counts them: a U+2028 in a comment ends none
        ('# a \u2028 b\nname = "a"\nname = "b"\n', "line 3, 'name = \"b\"': a key given"),
        # a long line is quoted in part, and says so: from its start for a key given
        # twice, around the column named for an error far along it
        (f'name = "a"\nname = "{"b" * 100}"\n', f"line 2, 'name = \"{'b' * 72}'...: a key"),
        (f"seed = [{'1, ' * 60}x]\n", f"line 1, ...'{'1, ' * 26}x]': invalid value"),
        ("a = {b = 1}\na.c = 2\n", "line 2, 'a.c = 2': an inline table added to after it"),
    ],
)
def test_invalid_toml_names_its_line(tmp_path: Path, text: str, said: str) -> None:
    from highfive.coverage._tables import read_coverage_toml
    from highfive.generators import ParameterSpace

    path = tmp_path / "c.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        CampaignConfig.from_toml(path)
    assert str(err.value).startswith(f"c.toml: not valid TOML at {said}"), str(err.value)
    assert "\n" not in str(err.value)
    # TOML given as text: the same message, naming what it was for
    for read, what in (
        (ParameterSpace.from_toml, "parameter space"),
        (read_coverage_toml, "coverage TOML"),
    ):
        with pytest.raises(ConfigError) as err:
            read(text)
        assert str(err.value).startswith(f"{what}: not valid TOML at {said}"), str(err.value)


def test_the_pruned_example_runs_the_variant_under_the_gate_s_ids() -> None:
    # A variant given by its file path got the file's name as its id, and the shipped
    # gate's criteria on 'float' and 'int8' refused the run.
    from highfive.harness import load_counters

    examples = Path(__file__).resolve().parents[2] / "examples"
    config = CampaignConfig.from_toml(examples / "pruned.toml")
    counters = load_counters(config)
    try:
        assert list(counters) == ["float", "int8"]
        sources = [Path(c.source).name for c in counters.values()]
        assert sources == ["highfive-pruned-float32.onnx", "highfive-pruned-int8.onnx"]
    finally:
        for c in counters.values():
            c.close()
