"""The command line as a user meets it: help, fields, bad input (one line, exit 2, no traceback)."""
import pytest

from conftest import ROOT, cli


def test_help_explains_usage_sections_and_exit_status():
    out = cli("--help")
    assert out.returncode == 0
    for words in ("PROTOCOL", "--set", "--out", "--force", "--seed", "resume DIR", "evaluate", "plot", "fields",
                  "protocols/harlow.yaml", "results.nc", "checkpoint.pkl", "exit status", "SIGTERM"):
        assert words in out.stdout
    out = cli("resume", "--help")
    assert out.returncode == 0 and "DIR/checkpoint.pkl" in out.stdout and "time_limit" in out.stdout


def test_fields_lists_every_field_and_matches_the_docs():
    from metods_sim.cli import fields_text

    out = cli("fields")
    assert out.returncode == 0
    assert "agent.steps: 4" in out.stdout and "trainer.algorithm: 'pgpe'" in out.stdout
    assert out.stdout.strip() in (ROOT / "docs" / "protocol.md").read_text(), \
        "docs/protocol.md is out of date: run python docs/update_protocol_md.py"
    assert fields_text() == out.stdout.strip()


@pytest.mark.parametrize("content,args,expected", [
    (None, ["missing.yaml"], "error: missing.yaml: no such protocol file"),
    ("task: {kind: harlow\n", ["p.yaml"], "error: p.yaml: invalid YAML"),
    ("trainer: {popsize: -8}\n", ["p.yaml"], "error: p.yaml: trainer.popsize: expected an integer >= 2, got -8"),
    ("agent: {steps: 0}\n", ["p.yaml"], "error: p.yaml: agent.steps: expected an integer >= 1, got 0"),
    ("agent: {neurons: 0}\n", ["p.yaml"], "error: p.yaml: agent.neurons: expected an integer >= 1, got 0"),
    ("trainer: {algoritm: snes}\n", ["p.yaml"], "(did you mean algorithm?)"),
    ("trainer: {algorithm: adamw}\n", ["p.yaml"], "error: p.yaml: trainer.algorithm: expected one of pgpe"),
    ("task: {kind: maze9}\n", ["p.yaml"], "error: p.yaml: task.kind: unknown task 'maze9'"),
    ("{}\n", ["p.yaml", "--set", "trainer.episodes=0"], "error: --set trainer.episodes=0: expected an integer >= 1"),
    ("{}\n", ["p.yaml", "--seed", "-3"], "error: --seed: expected an integer >= 0, got -3"),
    pytest.param("{}\n", ["p.yaml", "--set", "trainer.device=cuda"], "trainer.device: expected cpu on this machine",
                 marks=pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="a GPU is present")),
    pytest.param("trainer: {kind: gradient, device: cuda}\n", ["p.yaml"],
                 "error: p.yaml: trainer.device: expected cpu on this machine",
                 marks=pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="a GPU is present")),
    ("trainer: {kind: gradient, popsize: 8}\n", ["p.yaml"],
     "error: p.yaml: trainer.popsize: unknown key (for trainer.kind gradient)"),
    ("trainer: {kind: gradient, algorithm: pgpe}\n", ["p.yaml"],
     "error: p.yaml: trainer.algorithm: expected one of a2c, ppo, got 'pgpe'"),
    ("trainer: {kind: gradient}\n", ["p.yaml", "--set", "trainer.bptt=-1"],
     "error: --set trainer.bptt=-1: expected an integer >= 0, got -1"),
    ("trainer: {kind: gradient}\nagent: {kind: random}\n", ["p.yaml"],
     "error: p.yaml: trainer.kind: expected es with agent.kind random (the gradient trainer differentiates an "
     "agent's PyTorch twin, and random has none; metods, maml, rl2, feedforward have one), got gradient"),
    ("task: {kind: metaworld, env_name: push-v3}\nagent: {kind: pearl}\n", ["p.yaml"],
     "error: p.yaml: trainer.kind: expected pearl with agent.kind pearl (the only trainer of that agent), got es"),
    ("task: {kind: ant_dir}\n", ["p.yaml", "--set", "task.impair.frozen=[8]"],
     "error: --set task.impair.frozen=[8]: expected a list of actuator indices in 0..7 (ant_dir has 8 actuators), "
     "got [8]"),
])
def test_bad_input_exits_2_with_one_line(tmp_path, content, args, expected):
    if content is not None:
        (tmp_path / "p.yaml").write_text(content)
    out = cli(*args, cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0, out.stderr
    assert "Traceback" not in out.stderr
    assert expected in out.stderr


def test_evaluate_refuses_a_file_that_is_not_a_results_dataset(tmp_path):
    (tmp_path / "x.nc").write_text("not netcdf")
    out = cli("evaluate", tmp_path / "x.nc")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "cannot open as a results dataset" in out.stderr
    out = cli("evaluate", tmp_path / "absent.nc")
    assert out.returncode == 2 and "absent.nc" in out.stderr


@pytest.mark.parametrize("args, expected", [
    (["evaluate", "r.nc", "--episodes", "0"], "error: --episodes: expected an integer >= 1, got 0"),
    (["evaluate", "r.nc", "--record", "-1"], "error: --record: expected an integer >= 0, got -1"),
    (["impair", "r.nc", "--episodes", "0"], "error: --episodes: expected an integer >= 1, got 0")])
def test_stored_agent_commands_refuse_bad_counts_in_one_line(tmp_path, args, expected):
    out = cli(*args, cwd=tmp_path)
    assert out.returncode == 2 and out.stderr.strip() == expected


# Malformed protocol files as a user writes them: each is refused by `python -m metods_sim FILE` with exit status 2
# and one line naming the file, the key and what was expected. (A sweep over an unknown key is not here: protocols
# have no sweep syntax yet.)
MALFORMED = [
    # unknown keys, at every level
    ("trainr: {}\n", "p.yaml: trainr: unknown key; expected one of name, seed, sweep, task, agent, trainer, evaluation, "
                     "recording, output (did you mean trainer?)"),
    ("agent: {stepz: 2}\n", "p.yaml: agent.stepz: unknown key (for agent.kind metods); expected one of kind, "),
    ("task: {kind: harlow_simple, distance: 2}\n", "p.yaml: task.distance: unknown key (for task.kind harlow_simple)"),
    ("output: {directory: runs}\n", "p.yaml: output.directory: unknown key; expected one of dir"),
    # wrong types
    ("trainer: {popsize: many}\n", "p.yaml: trainer.popsize: expected an integer >= 2, got 'many'"),
    ("trainer: {popsize: '8'}\n", "p.yaml: trainer.popsize: expected an integer >= 2, got '8'"),
    ("trainer: {popsize: 8.5}\n", "p.yaml: trainer.popsize: expected an integer >= 2, got 8.5"),
    ("seed: [1, 2]\n", "p.yaml: seed: expected an integer >= 0, got a list"),
    ("agent: 3\n", "p.yaml: agent: expected a mapping of fields, got 3"),
    ("task: {fixation_reward: yes}\n", "p.yaml: task.fixation_reward: expected a number >= 0, got True"),
    ("agent: {write: 3}\n", "p.yaml: agent.write: expected one of vanilla, linear, mlp, got 3"),
    ("name: 7\n", "p.yaml: name: expected a string, got 7"),
    # out-of-range values
    ("trainer: {stdev_init: 0}\n", "p.yaml: trainer.stdev_init: expected a number > 0, got 0"),
    ("trainer: {parenthood_ratio: 1.5}\n", "p.yaml: trainer.parenthood_ratio: expected a number > 0 and <= 1, "
                                           "got 1.5"),
    ("agent: {W_clip: -1}\n", "p.yaml: agent.W_clip: expected a number >= 0, got -1"),
    ("trainer: {checkpoint_every: -10}\n", "p.yaml: trainer.checkpoint_every: expected an integer >= 0, got -10"),
    ("trainer: {center_lr: .nan}\n", "p.yaml: trainer.center_lr: expected a number > 0, got nan"),
    ("trainer: {popsize: 7}\n", "p.yaml: trainer.popsize: expected an even number with algorithm pgpe (it samples "
                                "symmetric pairs), got 7"),
    # broken YAML
    ("task: {kind: harlow\n", "p.yaml: invalid YAML at line 2, column 1: expected ',' or '}', but got '<stream end>'"),
    ("task:\n  kind: harlow\n   presentations: 3\n", "p.yaml: invalid YAML at line 3, column 17: mapping values are "
                                                     "not allowed here"),
    ("task:\n\tkind: harlow\n", "p.yaml: invalid YAML at line 2, column 1: found character '\\t' that cannot start "
                                "any token"),
    # empty, or not a protocol at all
    ("", "p.yaml: empty protocol; expected a mapping of sections (task, agent, trainer, ...), or {} for every "
         "default"),
    ("# nothing but a comment\n", "p.yaml: empty protocol; expected a mapping of sections"),
    ("- task\n- agent\n", "p.yaml: expected a mapping of sections (task, agent, trainer, ...), got list"),
    (b"\xff\xfe\x00t\x00a", "p.yaml: cannot read the protocol file (not UTF-8 text)"),
]


@pytest.mark.parametrize("content,expected", MALFORMED, ids=[e.split(": ")[1][:40] for _, e in MALFORMED])
def test_a_malformed_protocol_exits_2_with_one_line(tmp_path, capsys, monkeypatch, content, expected):
    from metods_sim.cli import main

    path = tmp_path / "p.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    monkeypatch.chdir(tmp_path)
    assert main(["p.yaml"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {expected}") and err.count("\n") == 1, err


def test_a_directory_given_as_protocol_exits_2_with_one_line(tmp_path, capsys):
    from metods_sim.cli import main

    assert main([str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"error: {tmp_path}: cannot read the protocol file (Is a directory)\n"


def test_plot_help_says_what_each_figure_needs():
    out = cli("plot", "--help")
    assert out.returncode == 0
    for words in ("learning_curve", "weight_pca", "energy", "weight_change", "--record N", "PNG and PDF", "--out DIR",
                  "exit status"):
        assert words in out.stdout


def test_plot_renders_the_standard_figures_beside_the_dataset(tmp_path):
    import shutil

    shutil.copy(ROOT / "data" / "harlow.nc", tmp_path / "run.nc")
    out = cli("plot", tmp_path / "run.nc")
    assert out.returncode == 0, out.stderr
    written = sorted(p.name for p in (tmp_path / "run-figures").iterdir())
    for name in ("learning_curve", "correct_by_presentation", "weight_pca", "energy", "weight_change"):
        assert f"{name}.png" in written and f"{name}.pdf" in written
    assert f"wrote {tmp_path / 'run-figures' / 'energy.png'}" in out.stdout


@pytest.mark.parametrize("make,args,expected", [
    (None, ["absent.nc"], "error: absent.nc: cannot open as a results dataset"),
    (lambda d: (d / "x.nc").write_text("not netcdf"), ["x.nc"], "error: x.nc: cannot open as a results dataset"),
    (lambda d: __import__("xarray").Dataset({"y": ("a", [1.0])}).to_netcdf(d / "y.nc"), ["y.nc"],
     "error: y.nc: nothing to plot: expected a training curve"),
    (lambda d: (d / "f").write_text(""), [str(ROOT / "data" / "harlow_simple.nc"), "--out", "f"],
     "error: --out f: expected a folder for the figures, got an existing file"),
])
def test_plot_bad_input_exits_2_with_one_line(tmp_path, make, args, expected):
    if make:
        make(tmp_path)
    out = cli("plot", *args, cwd=tmp_path)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip().count("\n") == 0 and expected in out.stderr, out.stderr
