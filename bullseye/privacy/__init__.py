"""Personal data kept safe (PIPL): forgetting a person, subject access, and masked BI views.

- :mod:`bullseye.privacy.keys`: the salted keys a forgotten person is remembered by (never the value);
- :mod:`bullseye.privacy.person`: finding one person's rows in every table of a DuckDB file;
- :mod:`bullseye.privacy.forget`: ``bullseye forget`` (PIPL Art. 47, the right to deletion);
- :mod:`bullseye.privacy.forget_filter`: the loader's check that holds a forgotten person back;
- :mod:`bullseye.privacy.subject_access`: ``bullseye subject-access`` (PIPL Art. 45);
- :mod:`bullseye.privacy.masking`: the masked views of the BI publication.
"""
