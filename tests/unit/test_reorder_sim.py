"""The simulation in docs/demand.md is what `make simulate` writes now, and it says what the doc
says of it (the learned rule against the fixed ones)."""
from bench import reorder_sim


def test_the_docs_show_the_current_simulation():
    runs = reorder_sim.simulate()
    doc = reorder_sim.DOC.read_text()
    assert reorder_sim.table(runs) in doc, "run `make simulate` and commit docs/demand.md"
    assert reorder_sim.SVG.read_text() == reorder_sim.svg(runs)


def test_the_learned_rule_runs_out_less_than_any_fixed_rule_holding_less_stock():
    runs = {run.name: run for run in reorder_sim.simulate()}
    learned = runs.pop(reorder_sim.LEARNED)
    for fixed in runs.values():
        if fixed.on_hand_sum < learned.on_hand_sum:
            assert learned.stock_out_days < fixed.stock_out_days, fixed.name
