"""The interface speaks Vietnamese first and English second: both catalogs complete and compiled."""

from lims.i18n import catalogs


def test_every_message_is_translated_and_the_catalogs_are_compiled():
    problems = catalogs.problems()
    assert problems == [], "run `make babel` and translate:\n" + "\n".join(problems[:40])


def test_english_switch_translates_the_interface(client, create_user):
    create_user("lan")
    assert "Đăng nhập" in client.get("/login").get_data(as_text=True)
    client.post("/language/en", data={"next": "/login"})
    page = client.get("/login").get_data(as_text=True)
    assert "Sign in" in page and "Đăng nhập" not in page
    assert 'lang="en"' in page


def test_dates_are_day_month_year_in_both_languages(app):
    import datetime as dt

    from lims.i18n import format_day

    with app.test_request_context():
        assert format_day(dt.date(2026, 3, 9)) == "09/03/2026"
