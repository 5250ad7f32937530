"""Reasoning and answers for the review bench: mixed English and Chinese from word lists.

Deterministic (one seed). Texts are drawn from a pool of paragraphs, so generating a
gigabyte takes seconds; every text also carries a sentence of rare words, each of
which occurs in a few dozen turns only, so a search for one of them is selective
(`RARE_EN`, `RARE_ZH` name one each for the bench to search).
"""

from __future__ import annotations

import random

EN_WORDS = (
    "the of and to in is that for it as with was on be by this are or from at an which "
    "not have has but can all if will one its would there their we so what about when "
    "up out them then some these two more time could other than first into only new "
    "model answer reasoning step check therefore assume suppose because value function "
    "number list result case error input output first second next final compute sum "
    "prime even odd graph node edge path cost memory cache query index table row column "
    "request response token stream latency server client thread process lock queue "
    "vector matrix gradient loss layer weight bias train test sample batch epoch metric "
    "python rust code loop variable string integer float array dict return import class "
    "proof lemma theorem equation derivative integral limit series bound estimate "
    "user question context prompt hint wait actually hmm let me verify again recall "
    "consider maybe wrong correct simplify expand factor solve substitute compare count"
).split()
ZH_WORDS = (
    "推理 模型 答案 问题 用户 首先 然后 因此 所以 但是 如果 那么 我们 需要 考虑 检查 "
    "计算 结果 数据 函数 变量 循环 条件 假设 证明 定理 公式 方程 导数 积分 极限 矩阵 "
    "向量 梯度 损失 训练 测试 样本 批次 指标 内存 缓存 查询 索引 表格 请求 响应 延迟 "
    "服务器 客户端 线程 进程 队列 字符串 整数 数组 字典 返回 导入 类型 错误 输入 输出 "
    "步骤 验证 重新 回忆 也许 正确 简化 展开 因式 求解 代入 比较 统计 上下文 提示 等等 "
    "其实 让我 再看 一下 这个 那个 可以 应该 不是 就是 还是 或者 以及 关于 之后 之前 "
    "机器学习 深度学习 自然语言 数据库 全文检索 分布式 并发控制 时间复杂度 空间复杂度"
).split()
# Rare words, out of the common vocabulary: syllables (English) and characters (Chinese)
# that the common words never form, so a rare word is only where it was put.
_EN_SYLLABLES = "zor vex quil tam brak nyx plor grim wex dral kum sarn tolk frim zeb yon".split()
_ZH_RARE = "鳕鲈鹈鹕蝾螈犰狳鼹鼠蜥蜴麒麟貔貅饕餮魑魅魍魉龘靐齉爩麤"
RARE_EN = "zorvexquil"
RARE_ZH = "鳕鲈鹈"


def rare_en() -> list[str]:
    s = _EN_SYLLABLES
    return [a + b + c for a in s for b in s for c in s]  # 4,096 words


def rare_zh() -> list[str]:
    c = _ZH_RARE
    return [a + b + d for a in c[:16] for b in c for d in c[:8]]  # 3,328 words


class TextMaker:
    def __init__(self, seed: int = 19, pool: int = 4000) -> None:
        self.rng = random.Random(seed)
        self.en = [self._english() for _ in range(pool)]
        self.zh = [self._chinese() for _ in range(pool)]
        self.rare_en = rare_en()
        self.rare_zh = rare_zh()

    def _english(self) -> str:
        rng = self.rng
        sentences = []
        for _ in range(rng.randint(3, 7)):
            words = rng.choices(EN_WORDS, k=rng.randint(6, 20))
            sentences.append(" ".join(words).capitalize() + rng.choice((".", ".", "?", ":")))
        return " ".join(sentences)

    def _chinese(self) -> str:
        rng = self.rng
        parts = []
        for _ in range(rng.randint(3, 7)):
            clauses = ["".join(rng.choices(ZH_WORDS, k=rng.randint(3, 8))) for _ in range(2)]
            parts.append("，".join(clauses) + rng.choice(("。", "。", "？", "：")))
        return "".join(parts)

    def text(self, chars: int, chinese_share: float) -> str:
        """About `chars` characters of paragraphs, `chinese_share` of them Chinese,
        with one sentence of rare words somewhere inside."""
        rng = self.rng
        out: list[str] = []
        size = 0
        while size < chars:
            para = rng.choice(self.zh if rng.random() < chinese_share else self.en)
            out.append(para)
            size += len(para) + 2
        rare = f"{rng.choice(self.rare_en)} {rng.choice(self.rare_en)} {rng.choice(self.rare_zh)}。"
        out.insert(rng.randrange(len(out) + 1), rare)
        return "\n\n".join(out)
