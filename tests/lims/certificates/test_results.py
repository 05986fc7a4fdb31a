"""Engine results as printed tables: every instrument type, with units and the engine's own verdicts."""

import instruments
import pytest

from lims.certificates import results, samples

METER_SPEC = {"accuracy_class": "1", "un_v": "220", "ib_a": "5", "imax_a": "20", "constant_imp_per_kwh": "1600"}
METER_READINGS = {
    "accuracy": [{"current_a": "5", "pf": "1", "pulses": "16", "reference_energy_wh": "10.05"},
                 {"current_a": "20", "pf": "0.5L", "error_pct": "0.4"},
                 {"current_a": "0.25", "pf": "1", "error_pct": "1.6"}],
    "starting": {"current_a": "0.02", "started": True},
    "no_load": {"voltage_v": "253", "pulses": "0"},
}


def _columns(table):
    return [(c.label_vi, c.unit) for c in table.columns]


def test_scale_tables_have_units_from_the_spec_and_mpe_as_a_symmetric_limit():
    zero, weighing, eccentricity, repeatability = results.result_tables(samples.scale_result())
    assert weighing.title_vi == "Kiểm tra sai số khi tăng và giảm tải"
    assert _columns(weighing) == [("Tải", "kg"), ("Chiều tải", ""), ("Số chỉ", "kg"), ("Tải bổ sung", "kg"),
                                  ("Sai số E", "kg"), ("Sai số hiệu chính Ec", "kg"),
                                  ("Sai số cho phép lớn nhất", "kg"),
                                  ("Kết quả", "")]
    # E = I + e/2 − ΔL − L = 0.2 + 0.005 − 0.004 − 0.2 = 0.001 kg; Ec = E − E0 with E0 = 0 + 0.005 − 0.005 = 0.
    assert weighing.rows[0] == ("0,2", "Tăng", "0,2", "0,004", "0,001", "0,001", "±0,005", "Đạt")
    assert weighing.rows[-1][1] == "Giảm" and len(weighing.rows) == 9
    assert zero.rows == (("0", "0,00", "0,005", "0,000", "±0,0025", "Đạt"),)
    assert [row[0] for row in eccentricity.rows] == ["1", "2", "3", "4", "5"]
    assert repeatability.rows[0] == ("15", "3", "15,00 … 15,00", "0,002", "±0,010", "Đạt")


def test_a_failed_point_prints_the_engines_verdict_and_failed_tests_name_it():
    result = samples.scale_result(failing=True)
    eccentricity = results.result_tables(result)[2]
    assert [row[-1] for row in eccentricity.rows] == ["Đạt", "Đạt", "Không đạt", "Đạt", "Đạt"]
    assert results.failed_tests(result) == ("Kiểm tra độ lệch tâm: 1/5 điểm không đạt",)


def test_decimal_point_is_a_setting():
    weighing = results.result_tables(samples.scale_result(), decimal_comma=False)[1]
    assert weighing.rows[0][:3] == ("0.2", "Tăng", "0.2")


def test_energy_meter_tables_print_the_rounded_error_and_the_power_factor():
    result = instruments.get("energy_meter").evaluate(METER_SPEC, METER_READINGS).to_dict()
    accuracy, starting, no_load = results.result_tables(result)
    assert _columns(accuracy) == [("Dòng điện", "A"), ("Hệ số công suất", ""), ("Sai số", "%"),
                                  ("Giới hạn sai số", "%"), ("Kết quả", "")]
    # 16 pulses at 1600 imp/kWh = 10 Wh against 10.05 Wh: −0.4975… %, printed as the engine rounds it.
    assert accuracy.rows[0] == ("5", "1", "-0,50", "±1,0", "Đạt")
    assert accuracy.rows[1] == ("20", "0,5 L", "0,40", "±1,0", "Đạt")
    assert accuracy.rows[2][-1] == "Không đạt"  # 1.6 % at 0.05 Ib, limit ±1.5 %
    assert starting.rows == (("0,02", "0,020", "Có", "Đạt"),)
    assert no_load.rows == (("253,00", "0", "1", "Đạt"),)
    assert results.failed_tests(result) == ("Kiểm tra sai số: 1/3 điểm không đạt",)


def test_taximeter_tables_round_long_percentages_for_printing_only():
    result = instruments.get("taximeter").evaluate({}, {
        "distance": [{"reference_m": "1000", "indicated_m": "1012"}],
        "time": [{"reference_s": "600", "indicated_s": "601"}]}).to_dict()
    distance, time = results.result_tables(result)
    assert distance.rows == (("1000", "1012", "12", "1,20", "±2", "Đạt"),)
    # 1/600 = 0.1666… % printed as 0,17 against ±0,1 %: fails, as the engine says.
    assert time.rows == (("600", "601", "1", "0,17", "±0,1", "Không đạt"),)
    assert [c.unit for c in time.columns] == ["s", "s", "s", "%", "%", ""]


def test_weight_calibration_is_one_summary_row_and_a_y_plus_minus_u_statement():
    document = samples.sample_calibration()
    table, = document.results
    assert [c.unit for c in table.columns] == ["", "", "g", "mg", "mg", "", "mg"]
    nominal, accuracy_class, mass, error, u, k, mpe = table.rows[0]
    assert (nominal, accuracy_class, k, mpe) == ("10 kg", "M1", "2", "±500")
    statement, = document.uncertainties
    assert statement.value == f"{mass} g" and statement.expanded_uncertainty == f"{u} mg" and statement.k == "2"
    assert results.uncertainty_statements(samples.scale_result()) == ()


def test_an_unknown_test_gets_a_generic_table_with_units_from_key_names():
    table = results.generic_table({"name": "creep", "passed": False, "points": [
        {"load_kg": "10", "drift_g": "0.5", "note": "after 30 min", "passed": False, "nested": {"x": 1}}]})
    assert [(c.label_vi, c.unit) for c in table.columns] == [("load_kg", "kg"), ("drift_g", "g"), ("note", ""),
                                                              ("Kết quả", "")]
    assert table.rows == (("10", "0,5", "after 30 min", "Không đạt"),)


@pytest.mark.parametrize("type_code, spec, expected", [
    ("nawi", samples.SCALE_SPEC, ["Max", "Min", "Verification scale interval e", "Scale interval d",
                                  "Accuracy class"]),
    ("energy_meter", METER_SPEC, ["Accuracy class", "Rated voltage Un", "Basic current Ib (Imax)", "Meter constant"]),
    ("taximeter", {"k_imp_per_km": "5000"}, ["Constant k"]),
])
def test_characteristic_rows_name_the_metrological_characteristics(type_code, spec, expected):
    rows = results.characteristic_rows(type_code, instruments.get(type_code).validate_spec(spec))
    assert [row.label_en for row in rows] == expected
    assert all(row.value for row in rows)


def test_characteristic_rows_print_units():
    rows = {r.label_en: r.value for r in results.characteristic_rows("energy_meter", METER_SPEC)}
    assert rows["Basic current Ib (Imax)"] == "5 A (20 A)" and rows["Meter constant"] == "1600 imp/kWh"
