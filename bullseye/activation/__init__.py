"""From segments to tomorrow's contacts: campaigns, contact policy, target lists and exports.

- ``campaigns``: campaign YAML and the contact policy, checked before anything runs;
- ``ledger``: contacts that count against caps (sent, and planned on earlier nights);
- ``policy``: one night's decisions, with a reason code for every candidate;
- ``exports``: the files marketers pull each morning, with manifest and diff.
"""
