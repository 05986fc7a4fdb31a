"""Metrology engine speed (issue 2): a 7-point meter verification, a 9-load scale verification, a batch of 5 000
meters, and an M1 weight calibration. Median µs per evaluation over repeated runs."""

from __future__ import annotations

import statistics
import time

import instruments

METER_SPEC = {"accuracy_class": "1", "un_v": "220", "ib_a": "5", "imax_a": "20", "constant_imp_per_kwh": "1600",
              "kind": "electronic"}
METER_READINGS = {
    "accuracy": [
        {"current_a": "0.25", "pf": "1", "error_pct": "0.42"},
        {"current_a": "0.5", "pf": "1", "meter_energy_wh": "10.03", "reference_energy_wh": "10.00"},
        {"current_a": "5", "pf": "1", "pulses": "16", "reference_energy_wh": "10.02"},
        {"current_a": "20", "pf": "1", "power_w": "4400", "pulses": "20", "time_s": "10.21"},
        {"current_a": "1", "pf": "0.5L", "error_pct": "-0.35"},
        {"current_a": "5", "pf": "0.5L", "error_pct": "0.28"},
        {"current_a": "5", "pf": "0.8C", "error_pct": "0.31"},
    ],
    "starting": {"current_a": "0.02", "started": True},
    "no_load": {"voltage_v": "253", "pulses": "0"},
}
SCALE_SPEC = {"max": "30000", "e": "1", "d": "1", "unit": "g", "accuracy_class": "II"}
SCALE_READINGS = {
    "zero": {"indication": "0", "delta_l": "0.4"},
    "weighing": [
        {"load": load, "indication": load, "delta_l": "0.3", "direction": direction}
        for load, direction in [("50", "up"), ("5000", "up"), ("10000", "up"), ("20000", "up"), ("30000", "up"),
                                ("20000", "down"), ("10000", "down"), ("5000", "down"), ("50", "down")]
    ],
}
WEIGHT_SPEC = {"nominal": "10", "unit": "kg", "accuracy_class": "M1"}
WEIGHT_READINGS = {
    "reference": {"conventional_mass_g": "10000.005", "expanded_uncertainty_mg": "45", "k": "2", "drift_mg": "15"},
    "cycles": [{"ref1": "0.000", "test1": "0.010", "test2": "0.010", "ref2": "0.000"},
               {"ref1": "0.000", "test1": "0.030", "test2": "0.030", "ref2": "0.000"},
               {"ref1": "0.000", "test1": "0.020", "test2": "0.020", "ref2": "0.000"}],
    "balance": {"d_mg": "10", "eccentricity_u_mg": "5.77"},
}


def _median_us(fn, repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - start) / 1000)
    return statistics.median(samples)


def run(args) -> dict:
    repeat = 200 if args.quick else 2000
    meter, scale, weight = instruments.get("energy_meter"), instruments.get("nawi"), instruments.get("weight")
    assert meter.evaluate(METER_SPEC, METER_READINGS).passed
    assert scale.evaluate(SCALE_SPEC, SCALE_READINGS).passed
    figures = {
        "meter_7_points_median_us": _median_us(lambda: meter.evaluate(METER_SPEC, METER_READINGS), repeat),
        "scale_9_loads_median_us": _median_us(lambda: scale.evaluate(SCALE_SPEC, SCALE_READINGS), repeat),
        "weight_m1_abba_median_us": _median_us(lambda: weight.evaluate(WEIGHT_SPEC, WEIGHT_READINGS), repeat),
        "to_dict_meter_median_us": _median_us(lambda: meter.evaluate(METER_SPEC, METER_READINGS).to_dict(), repeat),
    }
    batch = 500 if args.quick else 5000
    start = time.perf_counter()
    results = [meter.evaluate(METER_SPEC, METER_READINGS) for _ in range(batch)]
    figures[f"meter_batch_{batch}_s"] = round(time.perf_counter() - start, 3)
    assert all(r.passed for r in results)
    for key, value in figures.items():
        print(f"  {key:<32} {value:10.1f}" if isinstance(value, float) and not key.endswith("_s")
              else f"  {key:<32} {value:10}")
    return figures
