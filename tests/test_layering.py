"""Data flows one way: analysis reads datasets and never imports the simulator that made them.

Imports go one way: every module of metods_sim, parsed (imports at any depth, function bodies included), sits
in a layer and imports only its own layer and those below; no import circles among the modules."""
import ast
import subprocess
import sys

from conftest import ROOT

PACKAGE = ROOT / "metods_sim"

# low to high; a module's layer is the first whose prefix names it (a package: itself and its submodules)
LAYERS = [
    ("base", ("metods_sim.errors", "metods_sim.fields", "metods_sim.version", "metods_sim.seeding")),
    ("results", ("metods_sim.results",)),
    ("plasticity", ("metods_sim.plasticity",)),
    ("tasks, agents", ("metods_sim.tasks", "metods_sim.agents")),
    ("rollout", ("metods_sim.rollout",)),      # metods_sim/rollout*.py
    ("trainers", ("metods_sim.trainers",)),
    ("protocol", ("metods_sim.protocol",)),
    ("experiments", ("metods_sim.experiments",)),
    ("analysis", ("metods_sim.analysis",)),
    ("top", ("metods_sim.cli", "metods_sim.__main__", "metods_sim")),
]
# what a layer may import besides itself, where that is narrower than "every layer below"
ONLY = {"metods_sim.results": ("metods_sim.errors", "metods_sim.results"),
        "metods_sim.analysis": ("metods_sim.errors", "metods_sim.results", "metods_sim.analysis")}
# siblings in one layer that must not import each other
SIBLINGS = [("metods_sim.tasks", "metods_sim.agents")]

# known upward imports and import circles: none (each entry would be an exception the test tolerates)
KNOWN = set()
KNOWN_CIRCLES = []


def modules() -> dict:
    """{dotted module name: path} of every module of the package, metods_sim/__init__.py included."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imports(name: str, path, known: set) -> set:
    """The package's modules `name` imports, anywhere in its file: `from a import b` names a.b when that is a
    module, else a; a parent package imported only on the way to its submodule is not counted."""
    is_package = path.name == "__init__.py"
    out = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if is_package else name.split(".")[:-1]
                base = base[:len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module
            targets = [f"{source}.{alias.name}" if f"{source}.{alias.name}" in known else source
                       for alias in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:   # `import a.b.c` where c is a name: the module a.b
                target = target.rpartition(".")[0]
            if target and target.startswith("metods_sim") and target != name:
                out.add(target)
    return out


def within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def layer(name: str) -> int:
    for rank, (_, prefixes) in enumerate(LAYERS):
        if any(within(name, p) for p in prefixes if p != "metods_sim") or name == "metods_sim" and \
                "metods_sim" in prefixes:
            return rank
    raise AssertionError(f"{name}: in no layer; add it to LAYERS")


def graph() -> dict:
    found = modules()
    return {name: imports(name, path, set(found)) for name, path in found.items()}


def violations(edges: dict) -> list:
    wrong = []
    for importer, targets in edges.items():
        for target in sorted(targets):
            rule = next((allowed for prefix, allowed in ONLY.items() if within(importer, prefix)), None)
            if rule is not None and not any(within(target, p) for p in rule):
                wrong.append((importer, target, f"{LAYERS[layer(importer)][0]} may import only {', '.join(rule)}"))
            elif layer(target) > layer(importer):
                wrong.append((importer, target, f"{LAYERS[layer(importer)][0]} imports the higher layer "
                                                f"{LAYERS[layer(target)][0]}"))
            elif any(within(importer, a) and within(target, b) or within(importer, b) and within(target, a)
                     for a, b in SIBLINGS):
                wrong.append((importer, target, "tasks and agents are siblings: neither imports the other"))
    return wrong


def cycles(edges: dict) -> list:
    """The strongly connected components of more than one module (Tarjan)."""
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


def test_every_module_has_a_layer():
    for name in modules():
        layer(name)


def test_no_module_imports_a_higher_layer():
    wrong = violations(graph())
    unexpected = [w for w in wrong if (w[0], w[1]) not in KNOWN]
    assert unexpected == [], "\n".join(f"{a} -> {b}: {why}" for a, b, why in unexpected)


def test_the_known_violations_are_still_there():
    # an entry of KNOWN that no longer happens is stale: delete it, so that the import cannot come back unseen
    found = {(a, b) for a, b, _ in violations(graph())}
    assert KNOWN <= found, sorted(KNOWN - found)


def test_no_import_circles():
    # the known upward imports aside, which close circles through protocol until branch fields removes them
    edges = {a: {b for b in targets if (a, b) not in KNOWN} for a, targets in graph().items()}
    found = [set(c) for c in cycles(edges)]
    assert [c for c in found if c not in KNOWN_CIRCLES] == []
    assert [c for c in KNOWN_CIRCLES if c not in found] == [], "a known circle is gone: delete its entry"


def test_the_checker_sees_imports_inside_functions_and_relative_ones(tmp_path):
    edges = graph()
    assert "metods_sim.experiments.sweep" in edges["metods_sim.experiments"]
    assert "metods_sim.trainers" in edges["metods_sim.experiments.run"]          # imported inside build()
    assert "metods_sim.tasks" in edges["metods_sim"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert [w[:2] for w in violations({"metods_sim.results.dataset": {"metods_sim.protocol"}})] == \
        [("metods_sim.results.dataset", "metods_sim.protocol")]


def test_the_analysis_names_the_iterations_of_every_trainer():
    # analysis.summary keeps its own table, not to import the trainers; it must agree with theirs
    from metods_sim.analysis.summary import ITERATIONS
    from metods_sim.trainers import TRAINERS

    assert ITERATIONS == {kind: cls.ITERATIONS for kind, cls in TRAINERS.items()}


def test_importing_the_package_loads_no_heavy_library():
    # MuJoCo, Meta-World and Ray (EvoTorch's) load when a protocol needs them, not on import
    code = ("import sys, metods_sim, metods_sim.protocol, metods_sim.cli, metods_sim.tasks, metods_sim.experiments; "
            "print(sorted(m for m in ('mujoco', 'metaworld', 'ray', 'gymnasium.envs.mujoco') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"


# moved from tests/analysis/test_layering.py (one basename per test module)
def test_analysis_imports_nothing_upstream_of_the_dataset():
    # (importing the package registers the Gymnasium tasks, and with them the rule's jit settings: not checked)
    code = ("import sys, metods_sim.analysis, metods_sim.analysis.figures; "
            "print(sorted(m for m in sys.modules if m.startswith(('metods_sim.rollout', 'metods_sim.agents', "
            "'metods_sim.trainers', 'metods_sim.evaluate', 'metods_sim.run'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, check=True)
    assert out.stdout.strip() == "[]"
