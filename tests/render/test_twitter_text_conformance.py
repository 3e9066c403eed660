"""twitter-text-parser against the official twitter-text v3 conformance data.

Cases from twitter/twitter-text `conformance/tests/validate.yml`, section
WeightedTweetsWithDiscountedEmojiCounterTest (the v3 config: emoji sequences
count 2) and UnicodeDirectionalMarkerCounterTest; the two overlong-URL cases
are left out for size. Invisible characters (ZWJ, tag characters) are spelled
out so the table survives editors.
"""

from __future__ import annotations

import pytest
from twitter_text import parse_tweet

X = "xxxxxxxxxx-"
CJK = ("故人西辞黄鹤楼，烟花三月下扬州。孤帆远影碧空尽，唯见长江天际流。朱雀桥边野草花，乌衣巷口夕阳斜。"
       "旧时王谢堂前燕，飞入寻常百姓家。朝辞白帝彩云间，千里江陵一日还。两岸猿声啼不住，轻舟已过万重山。"
       "泪湿罗巾梦不成，夜深前殿按歌声。红颜未老恩先断，斜倚薰笼坐到明。独在异乡为异客，每逢佳节倍思亲。"
       "遥知兄弟登高处，遍插茱萸少一人。")
KANA = "あいうえおかきくけこ"
FAMILY = "\U0001F468\u200d\U0001F469\u200d\U0001F467\u200d\U0001F466"
ENGLAND = "\U0001F3F4\U000E0067\U000E0062\U000E0065\U000E006E\U000E0067\U000E007F"
PUNCT = ("This is a tweet with general punctuation characters: "
         "\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200A\u200B "
         "‐ ‑ ‒ – — ― ‖  ‗ ‘ ’ ‚ ‛ “ ” „ ‟ ′ ″ ‴ ‵ ‶ ‷")

CASES = [
    ("Regular Tweet with url", "Hi http://test.co", 26, True),
    ("Just url", "http://test.co", 23, True),
    ("Long tweet, overflow at char index 280", "285 chars-" + X * 25, 285, False),
    ("Long tweet with url in the middle", "285 chars- http://www.twitter.com/jack " + X * 24, 299, False),
    ("Long tweet with url at the end", X * 24 + " http://www.twitter.com/jack ", 289, False),
    ("10 url string, no overflow", "https://www.twitter.com/aloha " * 10, 240, True),
    ("160 CJK char", CJK, 320, False),
    ("160 emoji char", "😷" * 160, 320, False),
    ("3 latin char + 160 CJK char", "the" + CJK, 323, False),
    ("282 chars with a normalized character", "282 chars-" + X * 24 + "xxxxxA\u0301x", 281, False),
    ("mix of single and double word characters", "H🐱☺" + FAMILY, 7, True),
    ("emoji inside the BMP", "😷👾😡🔥💩", 10, True),
    ("emoji with skin tone modifiers", "🙋🏽👨\u200d🎤", 4, True),
    ("general punctuation, no ZWJ/ZWNJ", PUNCT, 110, True),
    ("64 character domain without protocol", "randomurl" * 7 + "s.com", 68, True),
    ("CJK with a >63 punycode host", KANA * 12 + " http://" + KANA * 5 + "あいう.com", 358, False),
    ("CJK with a <63 punycode host", KANA * 12 + " http://" + KANA * 5 + "あい.com", 264, True),
    ("140 family emoji", FAMILY * 140, 280, True),
    ("Unicode 10.0 emoji", "Unicode 10.0 emoji: 🤪; 🧕; 🧕🏾; " + ENGLAND, 34, True),
    ("Unicode 9.0 emoji", "Unicode 9.0 emoji: 🤠; 💃; 💃🏾", 29, True),
    ("invalid characters", "ABC\u202A\uFFFFABC\uFFFE", 12, False),
    ("directional characters", "\u2066\u202Ahttp://foobar.پاکستان/\u202C\u2069", 31, True),
]


@pytest.mark.parametrize("description,text,weighted,valid", CASES, ids=[c[0] for c in CASES])
def test_v3_weighting_matches_conformance(description, text, weighted, valid):
    result = parse_tweet(text)
    assert (result.weightedLength, result.valid) == (weighted, valid)


def test_reference_table_b6():
    """The table in reference/delivery-apis.md §B.6."""
    assert parse_tweet("a" * 280).valid and not parse_tweet("a" * 281).valid
    assert parse_tweet("日本語" * 47).weightedLength == 282
    assert parse_tweet("see https://example.com/" + "x" * 100).weightedLength == 27
    assert parse_tweet(FAMILY).weightedLength == 2
    assert parse_tweet("café").weightedLength == 4
