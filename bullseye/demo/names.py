"""Reference vocabularies for the demo generator: names, places, products."""

from __future__ import annotations

# Surnames, most common first (weights roughly follow their real frequency).
SURNAMES = list(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁"
    "任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN_CHARS = list(
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂华建国文辉玲鹏飞鑫宇浩然婷雪琳晨欣怡子轩博涵梓睿思佳雨"
    "嘉俊志海斌亮云红梅燕波宁凯峰东晓颖慧琴龙飞春玉兵成荣新利清林丹倩萍宏健永"
)
# Given names that are very common on their own (王伟, 张伟 ...): term frequency matters.
COMMON_GIVEN = ["伟", "芳", "娜", "敏", "静", "磊", "强", "军", "洋", "勇", "艳", "杰"]

# (province as written in full, city, districts)
PLACES = [
    ("广东省", "广州市", ["天河区", "越秀区", "海珠区", "番禺区"]),
    ("广东省", "深圳市", ["福田区", "南山区", "罗湖区", "宝安区"]),
    ("浙江省", "杭州市", ["西湖区", "上城区", "滨江区"]),
    ("江苏省", "南京市", ["鼓楼区", "玄武区", "建邺区"]),
    ("江苏省", "苏州市", ["姑苏区", "工业园区", "吴中区"]),
    ("北京市", "北京市", ["朝阳区", "海淀区", "东城区", "丰台区"]),
    ("上海市", "上海市", ["浦东新区", "徐汇区", "静安区", "闵行区"]),
    ("四川省", "成都市", ["武侯区", "锦江区", "青羊区"]),
    ("湖北省", "武汉市", ["江汉区", "武昌区", "洪山区"]),
    ("福建省", "厦门市", ["思明区", "湖里区"]),
]
STREETS = ["中山路", "人民路", "解放路", "建设路", "和平路", "新华路", "长江路", "滨江大道", "科技园路",
           "学府路", "东风路", "花园路"]

# category, product stems, price range (yuan), cost ratio range
CATEGORIES = [
    ("大家电", ["冰箱", "洗衣机", "空调", "电视", "热水器"], (1500, 9000), (0.70, 0.85)),
    ("小家电", ["电饭煲", "吸尘器", "空气净化器", "微波炉", "电风扇"], (150, 1500), (0.55, 0.75)),
    ("厨具", ["炒锅", "刀具套装", "保温杯", "砧板"], (40, 600), (0.45, 0.65)),
    ("个护", ["电动牙刷", "剃须刀", "吹风机", "洗发水"], (30, 800), (0.40, 0.65)),
    ("母婴", ["奶粉", "纸尿裤", "婴儿推车", "奶瓶"], (60, 2000), (0.60, 0.80)),
    ("食品", ["茶叶", "坚果礼盒", "食用油", "大米"], (20, 300), (0.55, 0.80)),
]

# How people write a mobile number. '{n}' is the 11-digit number.
PHONE_FORMS = [
    "{n}", "{n}", "{n}", "+86{n}", "+86 {a} {b} {c}", "0086-{a}-{b}-{c}", "{a}-{b}-{c}",
    "{a} {b} {c}", "86{n}", "(+86){n}",
]
# How people write a date. Unambiguous forms only; ambiguous ones are not "common" enough.
DATE_FORMS = ["%Y-%m-%d", "%Y-%m-%d", "%Y%m%d", "%Y/%-m/%-d", "%Y年%-m月%-d日"]
JUNK_PHONE_VALUES = ["13800138000", "13888888888", "00000000000"]
JUNK_EMAIL_VALUES = ["test@test.com", "123@qq.com"]
JUNK_NAME_VALUES = ["无", "测试", "null"]
UNREADABLE_DATES = ["1990-02-30", "不详", "0000-00-00", "19xx-05-01", "2001-13-01"]
EMAIL_DOMAINS = ["qq.com", "163.com", "126.com", "sina.com", "gmail.com", "outlook.com",
                 "foxmail.com"]
