"""The one-line postal address of the per-campaign export file."""

import pandas as pd

from bullseye.activation.exports import _one_contact_column, _postal_line


def test_postal_line_names_each_unit_once_largest_first():
    df = pd.DataFrame({"province": ["江苏省", "北京市", "广东省", None],
                       "city": ["南京市", "北京市", "广州市", "上海市"],
                       "district": ["建邺区", "朝阳区", None, "徐汇区"],
                       "address": ["建邺区新华路198号", "朝阳区建国路1号", "天河路1号", None]})
    assert _postal_line(df) == ["江苏省南京市建邺区新华路198号", "北京市朝阳区建国路1号", "广东省广州市天河路1号",
                                "上海市徐汇区"]


def test_campaign_file_row_keeps_only_its_channels_contact():
    sms = pd.DataFrame({"customer_id": ["c1"], "phone": ["+8613924681351"], "send_after": ["2026-06-02 09:00"]})
    row = _one_contact_column(sms, "sms").iloc[0].to_dict()
    assert row == {"customer_id": "c1", "channel": "sms", "name": None, "contact": "+8613924681351",
                   "send_after": "2026-06-02 09:00"}
