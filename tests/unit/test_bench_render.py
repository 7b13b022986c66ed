"""`make bench` renders what its parts measured: a render bug once lost a whole 8-minute run at
the very end (a local name shadowed the packages module)."""
from bench.__main__ import render


def test_package_sizes_render_with_their_budget():
    text = render({"packages": {"shop_dev": "20.0 MiB", "factory_dev": "20.0 MiB"}},
                  ["--only", "packages"], 1.0)
    assert "| stage | zip (budget 24 MiB) |" in text
    assert "| shop_dev | 20.0 MiB |" in text
    assert "| factory_dev | 20.0 MiB |" in text


def test_lambda_cold_start_renders_with_and_without_bytecode_side_by_side():
    measured = {"stage": "shop_dev", "rounds": 8,
                "from_source": {"with .pyc": 0, "without .pyc": 385},
                "zip_mib": {"with .pyc": 20.0, "without .pyc": 12.3},
                "cold_start": {"with .pyc": 0.5, "without .pyc": 1.25},
                "unpack": {"with .pyc": 0.3, "without .pyc": 0.2}}
    text = render({"lambda": measured}, ["--only", "lambda"], 1.0)
    assert "(0 modules compiled from source), 8 rounds | 500 ms |" in text
    assert "(385 compiled): 1250 ms | 0.40 |" in text
    assert "20.0 MiB | 300 ms | without .pyc, 12.3 MiB: 200 ms | 1.50 |" in text


def test_the_hot_item_renders_both_regimes_against_bare_by_hand_and_before():
    def figures(per_second):
        return {name: {"per_second": per_second[name], "p50_ms": 1.0,
                       "client_us": 100.0 / per_second[name] * 300, "server_us": 200.0}
                for name in per_second}
    loopback = {"figures": figures({"inventory_core": 50.0, "bare": 100.0, "by_hand": 80.0,
                                    "in_lock": 64.0}),
                "ratio": 0.5, "ratio_by_hand": 0.625, "by_hand_to_bare": 0.8,
                "in_lock_to_bare": 0.64}
    text = render({"hot": {"threads": 64, "round_trip_ms": 0.5,
                           "check": {"oversold": 0, "ledger_balanced": True},
                           "regimes": {"loopback": loopback, "round_trip": loopback}}},
                  ["--only", "hot"], 1.0)
    assert text.count("| 0.50 |") == 2 and text.count("| 0.62 |") == 2
    assert "(0.64 of bare) | purchase INSERT first: 80/s (0.80 of bare) | 1.25 |" in text
    assert "hot item (+0.5 ms round trip per statement): 64 threads" in text
    # ours: 600 us here + 200 us server; bare: 300 + 200
    assert text.count("| ours: 600 / 200 µs | bare: 300 / 200 µs; by hand: 375 / 200 µs | "
                      "1.60x bare's |") == 1  # on loopback only, where CPU is what they share


def test_the_hot_item_s_cpu_row_without_a_local_server_counts_the_clients_only():
    figure = {"per_second": 100.0, "p50_ms": 1.0, "client_us": 300.0, "server_us": None}
    measured = {"figures": {name: figure for name in ("inventory_core", "bare", "by_hand",
                                                      "in_lock")},
                "ratio": 1.0, "ratio_by_hand": 1.0, "by_hand_to_bare": 1.0,
                "in_lock_to_bare": 1.0}
    text = render({"hot": {"threads": 64, "round_trip_ms": 0.5,
                           "check": {"oversold": 0, "ledger_balanced": True},
                           "regimes": {"loopback": measured}}}, ["--only", "hot"], 1.0)
    assert "(the server runs elsewhere) | ours: 300 µs | bare: 300 µs | 1.00x bare's |" in text
