"""Every lunar birthday (lunar month, day, leap or not) and the solar date it falls on in each lunar year.

The trigger model joins a customer's lunar birthday (stg_crm__customers.lunar_birth_*) to this lookup to
find its next solar date. The rules (bullseye.activation.calendar.lunar_birthday, converted by the
`lunardate` library): a leap-month birthday is kept in the leap month only in years that have the same
leap month, else in the ordinary month; the 30th is kept on the 29th in a month of 29 days. Lunar years from
the one before the run date's to the one the trigger horizon ends in: a lunar year starts in late January
or February, so the solar dates from the run date onwards lie in those years.
"""


def model(dbt, session):
    dbt.config(materialized="table")
    import pandas as pd

    from bullseye.activation.calendar import lunar_birthday_dates, years_needed
    from bullseye.config import run_date

    run = run_date(dbt.config.get("as_of"))
    horizon = int(dbt.config.get("horizon_days"))  # its own statement: dbt finds config keys used only so
    frame = pd.DataFrame(lunar_birthday_dates(years_needed(run, horizon)))
    for col in ("lunar_year", "lunar_month", "lunar_day"):
        frame[col] = frame[col].astype("int32")
    frame["solar_date"] = pd.to_datetime(frame["solar_date"]).dt.date
    return frame
