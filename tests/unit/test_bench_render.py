"""`make bench` renders what its parts measured: a render bug once lost a whole 8-minute run at
the very end (a local name shadowed the packages module)."""
from bench.__main__ import render


def test_package_sizes_render_with_their_budget():
    text = render({"packages": {"shop_dev": "20.0 MiB", "factory_dev": "20.0 MiB"}},
                  ["--only", "packages"], 1.0)
    assert "| stage | zip (budget 24 MiB) |" in text
    assert "| shop_dev | 20.0 MiB |" in text
    assert "| factory_dev | 20.0 MiB |" in text

