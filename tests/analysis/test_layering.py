"""Data flows one way: analysis reads datasets and never imports the simulator that made them."""
import subprocess
import sys

from conftest import ROOT


def test_analysis_imports_nothing_upstream_of_the_dataset():
    # (importing the package registers the Gymnasium tasks, and with them the rule's jit settings: not checked)
    code = ("import sys, metods_sim.analysis, metods_sim.analysis.figures; "
            "print(sorted(m for m in sys.modules if m.startswith(('metods_sim.rollout', 'metods_sim.agents', "
            "'metods_sim.trainers', 'metods_sim.evaluate', 'metods_sim.run'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"
