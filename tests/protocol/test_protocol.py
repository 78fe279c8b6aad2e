"""Protocol files: defaults filled in, overrides applied, every bad input refused with one clear line."""
from pathlib import Path

import pytest
import yaml

from metods_sim.protocol import ProtocolError, defaults, dump, load
from metods_sim.protocol.schema import SECTIONS

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path, text, name="p.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


RUNS = sorted(p for p in (ROOT / "protocols").glob("*.yaml") if not p.name.startswith("compare_"))


@pytest.mark.parametrize("protocol", RUNS, ids=lambda p: p.name)
def test_shipped_protocols_are_valid(protocol):
    spec = load(protocol)
    assert spec["name"] == protocol.stem


@pytest.mark.parametrize("comparison", sorted((ROOT / "protocols").glob("compare_*.yaml")), ids=lambda p: p.name)
def test_shipped_comparisons_are_valid(comparison):
    from metods_sim.experiments.compare import read_comparison

    read = read_comparison(comparison)
    assert read["name"] == comparison.stem and len(read["specs"]) >= 2


def test_an_empty_protocol_gets_every_default(tmp_path):
    spec = load(write(tmp_path, "{}\n"))
    assert spec == {**defaults(), "name": "p"}
    assert spec["agent"]["steps"] == 4 and spec["task"]["presentations"] == 6
    assert set(spec) == {"name", "seed", "sweep"} | set(SECTIONS) and spec["sweep"] == {}


def test_overrides_and_seed(tmp_path):
    path = write(tmp_path, "trainer: {popsize: 64}\n")
    spec = load(path, ["trainer.popsize=32", "agent.write=vanilla", "task.wrong_reward=-0.5"], seed=9)
    assert spec["trainer"]["popsize"] == 32 and spec["agent"]["write"] == "vanilla"
    assert spec["task"]["wrong_reward"] == -0.5 and spec["seed"] == 9


def test_a_spec_round_trips_through_yaml(tmp_path):
    spec = load(write(tmp_path, "task: {kind: harlow_simple}\n"))
    assert yaml.safe_load(dump(spec)) == spec


def test_integers_are_accepted_where_numbers_are_expected(tmp_path):
    spec = load(write(tmp_path, "task: {fixation_reward: 1}\n"))
    assert spec["task"]["fixation_reward"] == 1.0 and isinstance(spec["task"]["fixation_reward"], float)


BAD = [
    ("task: [1, 2\n", r"p.yaml: invalid YAML at line 2"),
    ("- a\n- b\n", r"p.yaml: expected a mapping of sections"),
    ("trainer: {popsize: -4}\n", r"p.yaml: trainer.popsize: expected an integer >= 2, got -4"),
    ("trainer: {popsize: 7}\n", r"p.yaml: trainer.popsize: expected an even number with algorithm pgpe"),
    ("trainer: {popsize: many}\n", r"p.yaml: trainer.popsize: expected an integer >= 2, got 'many'"),
    ("agent: {steps: 0}\n", r"p.yaml: agent.steps: expected an integer >= 1, got 0"),
    ("agent: {neurons: 0}\n", r"p.yaml: agent.neurons: expected an integer >= 1, got 0"),
    ("agent: {neurons: 2.5}\n", r"p.yaml: agent.neurons: expected an integer >= 1, got 2.5"),
    ("agent: {stepz: 2}\n", r"p.yaml: agent.stepz: unknown key .*\(did you mean steps\?\)"),
    ("trainr: {}\n", r"p.yaml: trainr: unknown key; .*\(did you mean trainer\?\)"),
    ("trainer: {algorithm: pgep}\n", r"p.yaml: trainer.algorithm: expected one of pgpe, snes, xnes, cmaes, cem, "
                                     r"got 'pgep' \(did you mean pgpe\?\)"),
    ("task: {kind: harlo}\n", r"p.yaml: task.kind: unknown task 'harlo'; .*\(did you mean harlow\?\)"),
    ("task: {kind: harlow_simple, distance: 2}\n", r"p.yaml: task.distance: unknown key \(for task.kind "
                                                   r"harlow_simple\)"),
    ("agent: {write: cubic}\n", r"p.yaml: agent.write: expected one of vanilla, linear, mlp, got 'cubic'"),
    ("task: {fixation_reward: yes}\n", r"p.yaml: task.fixation_reward: expected a number >= 0, got True"),
    ("trainer: {stdev_init: 0}\n", r"p.yaml: trainer.stdev_init: expected a number > 0, got 0"),
    ("agent: {init_log_std: .inf}\n", r"p.yaml: agent.init_log_std: expected a number, got inf"),
    ("trainer: {center_lr: .nan}\n", r"p.yaml: trainer.center_lr: expected a number > 0, got nan"),
    ("trainer: {num_actors: 2, device: cuda}\n", r"p.yaml: trainer.device: expected cpu when"),
    ("trainer: 3\n", r"p.yaml: trainer: expected a mapping of fields, got 3"),
    ("trainer: {observation_norm: runing}\n", r"p.yaml: trainer.observation_norm: expected one of none, running, "
                                              r"got 'runing' \(did you mean running\?\)"),
    ("trainer: {kind: gradient, observation_norm: true}\n", r"p.yaml: trainer.observation_norm: expected one of "
                                                            r"none, running, got True"),
    ("seed: -1\n", r"p.yaml: seed: expected an integer >= 0, got -1"),
    ("task: {kind: maze, view: 4}\n", r"p.yaml: task.view: expected an odd number"),
    ("task: {kind: cheetah_dir}\ntrainer: {kind: gradient}\nagent: {kind: random}\n",
     r"p.yaml: trainer.kind: expected es with agent.kind random \(the gradient trainer differentiates an agent's"),
    ("sweep: {agent.stepz: [1, 2]}\n", r"p.yaml: sweep: agent.stepz: unknown key .*\(did you mean steps\?\)"),
    ("sweep: {agent.steps: [1, 0]}\n", r"p.yaml: sweep: agent.steps: expected an integer >= 1, got 0"),
    ("sweep: {agent.steps: 2}\n", r"p.yaml: sweep.agent.steps: expected a non-empty list of values, got 2"),
    ("sweep: {variants: {no alpha: {agent.plasticity: off}}}\n",
     r"p.yaml: sweep.variants.no alpha: agent.plasticity: expected one of elementwise, none, got False"),
    ("sweep: {seeds: [0, 0]}\n", r"p.yaml: sweep.seeds: expected a list of distinct integers >= 0"),
    ("sweep: {steps: [1]}\n", r"p.yaml: sweep.steps: unknown key; expected seeds, variants, or a field path"),
]


@pytest.mark.parametrize("text,message", BAD, ids=[m.split(": ")[1] for _, m in BAD])
def test_bad_input_is_one_line_naming_file_key_and_expectation(tmp_path, text, message):
    with pytest.raises(ProtocolError, match=message) as info:
        load(write(tmp_path, text))
    assert "\n" not in str(info.value)


@pytest.mark.parametrize("kind", ["ant_dir", "cheetah_dir", "cheetah_vel"])
def test_the_gradient_trainer_takes_a_continuous_task(tmp_path, kind):
    spec = load(write(tmp_path, f"task: {{kind: {kind}}}\ntrainer: {{kind: gradient, episodes: 16}}\n"))
    assert (spec["task"]["kind"], spec["trainer"]["kind"], spec["trainer"]["episodes"]) == (kind, "gradient", 16)
    cheetah = load(ROOT / "protocols" / "cheetah_dir.yaml", ["trainer={kind: gradient}"])
    assert cheetah["trainer"] == defaults(task="cheetah_dir", trainer="gradient")["trainer"]


def test_missing_file(tmp_path):
    with pytest.raises(ProtocolError, match="nope.yaml: no such protocol file"):
        load(tmp_path / "nope.yaml")


@pytest.mark.parametrize("item,message", [
    ("trainer.popsize", r"--set trainer.popsize: expected key.path=value"),
    ("trainer.popsize=-2", r"^--set trainer.popsize=-2: expected an integer >= 2, got -2$"),
    ("trainer.popsize.x=1", r"--set trainer.popsize.x=1: popsize is not a section"),
    ("agent.steps=[1", r"--set agent.steps=\[1: the value is not valid YAML"),
])
def test_bad_overrides_name_the_option(tmp_path, item, message):
    with pytest.raises(ProtocolError, match=message):
        load(write(tmp_path, "trainer: {popsize: 4}\n"), [item])


def test_changing_the_kind_from_the_command_line(tmp_path):
    path = write(tmp_path, "agent: {kind: metods, neurons: 8}\n")
    with pytest.raises(ProtocolError, match=r"p.yaml: agent.neurons: unknown key \(for agent.kind rl2\).*"
                                            r"replace the whole section .*: --set 'agent=\{kind: rl2\}'$"):
        load(path, ["agent.kind=rl2"])
    assert load(path, ["agent={kind: rl2, hidden: 4}"])["agent"] == {**defaults(agent="rl2")["agent"], "hidden": 4}
